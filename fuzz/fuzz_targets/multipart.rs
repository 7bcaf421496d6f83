//! libFuzzer entry point: arbitrary bytes as a multipart body (boundary `B`), delivered in
//! input-chosen chunks, through the streaming multipart reader.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pinfold_fuzz::check_multipart(data);
});
