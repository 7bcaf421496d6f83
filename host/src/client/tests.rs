//! Unit tests of the client: address parsing, stream decoding, error bodies, Go's nulls,
//! query strings, IPFS paths and the multipart encoding, each against what the Go client does.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::upload::base_name;
use super::*;
use crate::types::{GlobalPinInfo, GlobalRepoGc, PeerDescription, PinOptions};

fn ma(s: &str) -> Multiaddr {
    s.parse().unwrap()
}

#[test]
fn multiaddr_to_url() {
    assert_eq!(
        multiaddr_to_base_url(&ma("/ip4/127.0.0.1/tcp/9094"), false).unwrap(),
        "http://127.0.0.1:9094"
    );
    assert_eq!(
        multiaddr_to_base_url(&ma("/ip6/::1/tcp/9094"), true).unwrap(),
        "https://[::1]:9094"
    );
    for d in ["dns", "dns4", "dns6"] {
        assert_eq!(
            multiaddr_to_base_url(&ma(&format!("/{d}/example.com/tcp/443")), true).unwrap(),
            "https://example.com:443"
        );
    }
    let e = multiaddr_to_base_url(
        &ma("/ip4/1.2.3.4/tcp/9096/p2p/12D3KooWJxNtxhvCnBq8PZX7C93ZNFzGsvKXg4VnXMi9Hso5mCKE"),
        false,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("REST over libp2p is not available yet"),
        "{e}"
    );
    assert!(
        multiaddr_to_base_url(&ma("/dnsaddr/example.com"), false)
            .unwrap_err()
            .to_string()
            .contains("libp2p")
    );
    assert!(multiaddr_to_base_url(&ma("/ip4/1.2.3.4/udp/1"), false).is_err());
    assert!(multiaddr_to_base_url(&ma("/ip4/1.2.3.4"), false).is_err());
    assert!(multiaddr_to_base_url(&ma("/unix/tmp%2Fsock"), false).is_err());
}

#[test]
fn decoder_splits_values_across_chunks() {
    let input = b"{\"a\":\"}{\\\"\"}\n{\"b\":[1,{\"c\":2}]}\n  \n{\"d\":3}\n";
    // every split point, including inside strings and escapes
    for cut in 0..input.len() {
        let mut d = JsonStreamDecoder::new();
        let mut got = Vec::new();
        d.push(&input[..cut]);
        while let Some(v) = d.next_value().unwrap() {
            got.push(v);
        }
        d.push(&input[cut..]);
        while let Some(v) = d.next_value().unwrap() {
            got.push(v);
        }
        d.finish().unwrap();
        let got: Vec<String> = got
            .iter()
            .map(|v| String::from_utf8_lossy(v).into())
            .collect();
        assert_eq!(
            got,
            vec![r#"{"a":"}{\""}"#, r#"{"b":[1,{"c":2}]}"#, r#"{"d":3}"#],
            "cut at {cut}"
        );
    }
    // byte by byte, values without separators
    let mut d = JsonStreamDecoder::new();
    let mut n = 0;
    for b in b"{}{\"x\":1}[]" {
        d.push(&[*b]);
        while d.next_value().unwrap().is_some() {
            n += 1;
        }
    }
    assert_eq!(n, 3);
    let mut d = JsonStreamDecoder::new();
    d.push(b"{\"a\":1");
    assert!(d.next_value().unwrap().is_none());
    assert_eq!(d.finish().unwrap_err().to_string(), "unexpected EOF");
    let mut d = JsonStreamDecoder::new();
    d.push(b" x");
    assert!(
        d.next_value()
            .unwrap_err()
            .to_string()
            .contains("invalid character 'x'")
    );
}

#[test]
fn error_bodies() {
    assert_eq!(
        api_error(404, br#"{"code":404,"message":"not found"}"#),
        ClientError::Api {
            code: 404,
            message: "not found".into()
        }
    );
    assert_eq!(
        api_error(405, b""),
        ClientError::Api {
            code: 405,
            message: "".into()
        }
    );
    assert_eq!(
        api_error(502, b"Bad Gateway"),
        ClientError::Api {
            code: 502,
            message: "Bad Gateway".into()
        }
    );
    assert_eq!(
        ClientError::Api {
            code: 500,
            message: "boom".into()
        }
        .to_string(),
        "boom (500)"
    );
}

#[test]
fn go_nulls_are_accepted() {
    let id = br#"{"id":"QmX","addresses":null,"cluster_peers":null,"cluster_peers_addresses":null,"version":"","commit":"","rpc_protocol_version":"","error":"dial backoff","ipfs":{"addresses":null,"error":""},"peername":""}"#;
    let p = PeerDescription::from_wire(id).unwrap();
    assert_eq!(p.error, "dial backoff");
    assert!(p.addresses.is_empty());
    let gpi = br#"{"cid":"QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY","name":"","allocations":null,"origins":null,"created":"0001-01-01T00:00:00Z","metadata":null,"peer_map":null}"#;
    let g = GlobalPinInfo::from_wire(gpi).unwrap();
    assert!(g.peer_map.is_empty() && g.origins.is_empty());
    let gc = br#"{"peer_map":{"QmA":{"peer":"QmA","peername":"a","keys":null}}}"#;
    assert!(
        GlobalRepoGc::from_wire(gc).unwrap().peer_map["QmA"]
            .keys
            .is_empty()
    );
    assert!(Vec::<Alert>::from_wire(b"null").unwrap().is_empty());
    let g = ConnectGraph::from_wire(br#"{"cluster_id":"a","ipfs_links":{"x":null},"cluster_links":null,"id_to_peername":null,"cluster_trust_links":null,"cluster_to_ipfs":null}"#).unwrap();
    assert_eq!(g.ipfs_links["x"], Vec::<String>::new());
}

#[test]
fn queries_like_go() {
    assert_eq!(query_escape("a b/c~*"), "a+b%2Fc~%2A");
    let mut po = PinOptions {
        name: "my pin".into(),
        replication_factor_min: 1,
        replication_factor_max: 2,
        ..Default::default()
    };
    po.metadata = Some([("k".to_string(), "v".to_string())].into_iter().collect());
    assert_eq!(
        pin_options_to_query(&po),
        "meta-k=v&mode=recursive&name=my+pin&replication-max=2&replication-min=1&shard-size=0&user-allocations="
    );
    assert_eq!(
        AddParams::default().to_query(),
        "chunker=size-262144&cid-version=0&format=unixfs&hash=sha2-256&hidden=false&layout=&local=false\
         &mode=recursive&name=&no-pin=false&nocopy=false&progress=false&raw-leaves=false&recursive=false\
         &replication-max=0&replication-min=0&shard=false&shard-size=104857600&stream-channels=true\
         &user-allocations=&wrap-with-directory=false"
    );
    assert_eq!(PinTypeFilter::parse("all").to_param(), "all");
    assert_eq!(PinTypeFilter::parse("").to_param(), "all");
    assert_eq!(
        PinTypeFilter::parse("shard-pin,pin").to_param(),
        "pin,shard-pin"
    );
    assert_eq!(PinTypeFilter::parse("nonsense").to_param(), "");
}

#[test]
fn ipfs_paths_like_boxo() {
    let c = "QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY";
    assert_eq!(ipfs_path(c).unwrap(), format!("/ipfs/{c}"));
    assert_eq!(
        ipfs_path(&format!("/ipfs/{c}/a/../b/")).unwrap(),
        format!("/ipfs/{c}/b/")
    );
    assert_eq!(ipfs_path("/ipns/example.com").unwrap(), "/ipns/example.com");
    assert!(ipfs_path("nonsense").is_err());
    assert!(ipfs_path("").is_err());
    assert_eq!(base_name("/a/b/"), "b");
}

#[test]
fn multipart_like_go_ipfs_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("d");
    fs::create_dir(&root).unwrap();
    fs::write(root.join("b.txt"), "B").unwrap();
    fs::write(root.join("a b.txt"), "AA").unwrap();
    fs::write(root.join(".hidden"), "H").unwrap();
    fs::create_dir(root.join("sub")).unwrap();
    fs::write(root.join("sub/c"), "").unwrap();
    std::os::unix::fs::symlink("b.txt", root.join("ln")).unwrap();
    for p in [&root, &root.join("sub")] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    for f in ["b.txt", "a b.txt", "sub/c"] {
        fs::set_permissions(root.join(f), fs::Permissions::from_mode(0o644)).unwrap();
    }
    let params = AddParams {
        recursive: true,
        ..Default::default()
    };
    let up = MultipartUpload::new(&[AddSource::Path(root.clone())], &params)
        .unwrap()
        .with_boundary("BND");
    assert_eq!(up.total_file_bytes(), 3);
    let body = String::from_utf8(up.to_bytes().unwrap()).unwrap();
    let mt = |p: &Path| {
        let m = fs::symlink_metadata(p).unwrap();
        if m.mtime_nsec() > 0 {
            format!("mtime={}&mtime-nsecs={}", m.mtime(), m.mtime_nsec())
        } else {
            format!("mtime={}", m.mtime())
        }
    };
    let abs = |p: &Path| query_escape(&p.to_string_lossy());
    let expected = format!(
        "--BND\r\nContent-Disposition: form-data; name=\"file?mode=020000000755&{}\"; filename=\"d\"\r\n\
         Content-Type: application/x-directory\r\n\r\n\
         \r\n--BND\r\nAbspath-Encoded: {}\r\nContent-Disposition: form-data; name=\"file?mode=0644&{}\"; filename=\"d%2Fa+b.txt\"\r\n\
         Content-Type: application/octet-stream\r\n\r\nAA\
         \r\n--BND\r\nAbspath-Encoded: {}\r\nContent-Disposition: form-data; name=\"file?mode=0644&{}\"; filename=\"d%2Fb.txt\"\r\n\
         Content-Type: application/octet-stream\r\n\r\nB\
         \r\n--BND\r\nContent-Disposition: form-data; name=\"file?mode=01000000777&{}\"; filename=\"d%2Fln\"\r\n\
         Content-Type: application/symlink\r\n\r\nb.txt\
         \r\n--BND\r\nContent-Disposition: form-data; name=\"file?mode=020000000755&{}\"; filename=\"d%2Fsub\"\r\n\
         Content-Type: application/x-directory\r\n\r\n\
         \r\n--BND\r\nAbspath-Encoded: {}\r\nContent-Disposition: form-data; name=\"file?mode=0644&{}\"; filename=\"d%2Fsub%2Fc\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n\
         \r\n--BND--\r\n",
        mt(&root),
        abs(&root.join("a b.txt")),
        mt(&root.join("a b.txt")),
        abs(&root.join("b.txt")),
        mt(&root.join("b.txt")),
        mt(&root.join("ln")),
        mt(&root.join("sub")),
        abs(&root.join("sub/c")),
        mt(&root.join("sub/c")),
    );
    assert_eq!(body, expected);

    // hidden files only with `hidden`
    let up = MultipartUpload::new(
        &[AddSource::Path(root.clone())],
        &AddParams {
            hidden: true,
            ..params.clone()
        },
    )
    .unwrap();
    assert!(
        String::from_utf8(up.to_bytes().unwrap())
            .unwrap()
            .contains("d%2F.hidden")
    );

    // errors checked before sending, worded as Go
    let e =
        MultipartUpload::new(&[AddSource::Path(root.clone())], &AddParams::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{} is a directory, but Recursive option is not set",
            root.display()
        )
    );
    let e = MultipartUpload::new(&[AddSource::Path("nope/x".into())], &params).unwrap_err();
    assert_eq!(e.to_string(), "lstat nope/x: no such file or directory");
    let e = MultipartUpload::new(
        &[AddSource::Path(root.join("b.txt"))],
        &AddParams {
            no_copy: true,
            ..params
        },
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "nocopy option is only valid for URLs");
    assert_eq!(
        AddSource::parse("https://example.com/x"),
        AddSource::Url("https://example.com/x".into())
    );
}
