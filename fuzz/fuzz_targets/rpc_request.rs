//! libFuzzer entry point: arbitrary bytes as an RPC request target (path + query).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pinfold_fuzz::check_rpc_request(data);
});
