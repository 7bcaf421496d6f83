//! Property checks shared by the libFuzzer targets (`fuzz_targets/`) and by the stable-toolchain
//! corpus smoke test (`tests/corpus.rs`).
//!
//! Each check panics when a property fails, so a fuzzer records the input as a crash:
//!
//! * `check_rpc_request`: request-target parsing never panics and yields only a known command
//!   or a 400/404. Every option accessor is total. Go durations survive parse → format →
//!   parse. Go integers agree with Rust's on plain decimals. Error bodies are valid JSON that
//!   round-trips the message.
//! * `check_multipart`: the multipart reader never panics or loops. It never returns more
//!   data than it was given, and never an empty chunk. After an error it stays finished.
//!   Above all, it is **independent of how the body is chunked**: whole-body and chunked
//!   deliveries give identical entries, contents and errors.

use std::cell::RefCell;

use axum::body::Body;
use bytes::Bytes;
use pinfold::ipfs::api::error::ApiError;
use pinfold::http::multipart::{Entry, Limits, MultipartReader};
use pinfold::gocompat::{duration, strconv};
use pinfold::ipfs::api::request::{COMMANDS, RpcRequest};

/// The `Content-Type` every multipart input is read with.
pub const MULTIPART_CONTENT_TYPE: &str = "multipart/form-data; boundary=B";

/// Option names the request check reads with every accessor.
const PROBE_OPTIONS: &[&str] = &[
    "recursive",
    "r",
    "timeout",
    "cid-version",
    "mode",
    "offset",
    "arg",
];

fn assert_client_error(e: &ApiError) {
    let s = e.status.as_u16();
    assert!(s == 400 || s == 404, "unexpected status {s}: {e:?}");
    let v: serde_json::Value = serde_json::from_str(&e.json_body()).expect("error body is JSON");
    assert_eq!(v["Message"].as_str(), Some(e.message.as_str()));
}

/// Properties of request-target parsing (see the crate docs).
pub fn check_rpc_request(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for target in [text.to_string(), format!("/api/v0/{text}")] {
        match RpcRequest::from_path_and_query(&target) {
            Ok(req) => {
                assert!(COMMANDS.contains(&req.command.as_str()), "{req:?}");
                let mut names: Vec<&str> = req.options().iter().map(|(k, _)| k.as_str()).collect();
                names.extend_from_slice(PROBE_OPTIONS);
                for name in names {
                    let results = [
                        req.bool(name, false).err(),
                        req.string(name).err(),
                        req.int(name).err(),
                        req.int64(name).err(),
                        req.uint(name).err(),
                        req.uint64(name).err(),
                    ];
                    for e in results.iter().flatten() {
                        assert_client_error(e);
                    }
                    let _ = req.strings(name);
                }
                if let Err(e) = req.timeout() {
                    assert_client_error(&e);
                }
                for i in 0..=req.args.len() {
                    assert_eq!(req.arg(i, "x").is_ok(), i < req.args.len());
                }
            }
            Err(e) => assert_client_error(&e),
        }
    }
    let json = ApiError::client(text.to_string()).json_body();
    let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(v["Message"].as_str(), Some(&*text));

    if let Ok(d) = duration::parse(&text) {
        let s = duration::format(d);
        assert_eq!(duration::parse(&s), Ok(d), "{text:?} -> {s:?}");
    }
    if !text.is_empty() && !text.starts_with('0') && text.bytes().all(|c| c.is_ascii_digit()) {
        assert_eq!(strconv::parse_uint(&text, 64), text.parse::<u64>().ok());
        assert_eq!(strconv::parse_int(&text, 64), text.parse::<i64>().ok());
    }
}

/// What one read of a body produced.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    items: Vec<(Entry, Vec<u8>)>,
    error: Option<(u16, String)>,
}

thread_local! {
    static RUNTIME: RefCell<tokio::runtime::Runtime> = RefCell::new(
        tokio::runtime::Builder::new_current_thread().build().expect("tokio runtime"),
    );
}

async fn read_all(chunks: Vec<Bytes>, limits: Limits, skip_odd: bool, budget: usize) -> Outcome {
    let total: usize = chunks.iter().map(Bytes::len).sum();
    let stream = futures::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    let body = Body::from_stream(stream);
    let mut r = MultipartReader::with_limits(Some(MULTIPART_CONTENT_TYPE), body, "path", limits)
        .expect("fixed content type is valid");
    let mut items = Vec::new();
    let mut calls = 0usize;
    let mut data_len = 0usize;
    let error = 'outer: loop {
        calls += 1;
        assert!(calls <= budget, "reader does not make progress");
        let entry = match r.next_entry().await {
            Ok(Some(e)) => e,
            Ok(None) => break None,
            Err(e) => break Some(e),
        };
        let mut data = Vec::new();
        if !(skip_odd && items.len() % 2 == 1) {
            loop {
                calls += 1;
                assert!(calls <= budget, "reader does not make progress");
                match r.next_chunk().await {
                    Ok(Some(c)) => {
                        assert!(!c.is_empty(), "empty chunk");
                        data_len += c.len();
                        data.extend_from_slice(&c);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        items.push((entry, data));
                        break 'outer Some(e);
                    }
                }
            }
        }
        items.push((entry, data));
    };
    assert!(
        data_len <= total,
        "more data out ({data_len}) than in ({total})"
    );
    if let Some(e) = &error {
        assert_eq!(e.status.as_u16(), 400, "{e:?}");
        assert!(e.message.starts_with("multipart: "), "{e:?}");
        assert_eq!(
            r.next_entry().await.ok(),
            Some(None),
            "reader must stay finished after an error"
        );
    }
    Outcome {
        items,
        error: error.map(|e| (e.status.as_u16(), e.message)),
    }
}

/// Properties of the multipart reader (see the crate docs). The first input byte picks the
/// chunk size of the second delivery. The second picks the limits and whether every other
/// entry's content is skipped. The rest is the body.
pub fn check_multipart(data: &[u8]) {
    let (ctl, body) = match data {
        [a, b, rest @ ..] => ([*a, *b], rest),
        _ => ([0, 0], data),
    };
    let chunk = 1 + usize::from(ctl[0] % 64);
    let limits = if ctl[1] & 1 == 1 {
        Limits {
            max_header_bytes: 64,
            max_headers: 4,
            max_line_bytes: 32,
            max_preamble_bytes: 128,
            max_symlink_bytes: 8,
        }
    } else {
        Limits::default()
    };
    let skip_odd = ctl[1] & 2 == 2;
    let budget = 4 * body.len() + 64;
    let whole = vec![Bytes::copy_from_slice(body)];
    let pieces: Vec<Bytes> = body.chunks(chunk).map(Bytes::copy_from_slice).collect();
    RUNTIME.with(|rt| {
        let rt = rt.borrow();
        let a = rt.block_on(read_all(whole, limits, skip_odd, budget));
        let b = rt.block_on(read_all(pieces, limits, skip_odd, budget));
        assert_eq!(a, b, "outcome depends on chunking (chunk size {chunk})");
    });
}
