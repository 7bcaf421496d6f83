use super::*;
use pinfold_plugin_sdk::types::EndpointKind;

const EXPOSED: &str = "Content-Type, X-Stream-Output, X-Chunked-Output, X-Content-Length";

fn plugin(cfg: &str) -> DefaultCors {
    DefaultCors::init(cfg).unwrap()
}

fn preflight(origin: Option<&str>, method: &str, headers: Option<&[&str]>) -> CorsRequest {
    let mut r = CorsRequest::new(EndpointKind::Rest, "OPTIONS", "/pins");
    r.origin = origin.map(String::from);
    r.request_method = Some(method.to_string());
    r.request_headers = headers.map(|h| h.iter().map(|s| s.to_string()).collect());
    r
}

fn actual(method: &str, origin: Option<&str>) -> CorsRequest {
    let mut r = CorsRequest::new(EndpointKind::Rest, method, "/pins");
    r.origin = origin.map(String::from);
    r
}

fn only_vary(vary: &str, preflight: bool) -> CorsResponse {
    CorsResponse {
        preflight,
        vary: vec![vary.to_string()],
        ..CorsResponse::default()
    }
}

#[test]
fn defaults_answer_a_literal_star() {
    let p = plugin("{}");
    let r = p.cors(&preflight(
        Some("https://evil.example"),
        "GET",
        Some(&["content-type"]),
    ));
    assert_eq!(
        r,
        CorsResponse {
            preflight: true,
            vary: vec![PREFLIGHT_VARY.into()],
            allow_origin: Some("*".into()),
            allow_methods: Some("GET".into()),
            allow_headers: vec!["content-type".into()],
            allow_credentials: true,
            ..CorsResponse::default()
        }
    );
    // never the request's origin, with or without credentials
    let r = p.cors(&actual("GET", Some("https://evil.example")));
    assert_eq!(
        r,
        CorsResponse {
            vary: vec!["Origin".into()],
            allow_origin: Some("*".into()),
            expose_headers: Some(EXPOSED.into()),
            allow_credentials: true,
            ..CorsResponse::default()
        }
    );
    // only GET cross-origin by default
    for m in ["POST", "DELETE", "PUT"] {
        assert_eq!(
            p.cors(&preflight(Some("https://a.example"), m, None)),
            only_vary(PREFLIGHT_VARY, true),
            "{m}"
        );
        assert_eq!(
            p.cors(&actual(m, Some("https://a.example"))),
            only_vary("Origin", false)
        );
    }
    // no Origin: nothing but Vary
    assert_eq!(p.cors(&actual("GET", None)), only_vary("Origin", false));
    assert_eq!(
        p.cors(&preflight(None, "GET", None)),
        only_vary(PREFLIGHT_VARY, true)
    );
    // an OPTIONS without Access-Control-Request-Method is not a preflight
    let mut r = actual("OPTIONS", Some("https://a.example"));
    r.request_method = Some(String::new());
    assert!(!p.cors(&r).preflight);
}

#[test]
fn go_test_cors_fixture() {
    // api/common/api_test.go: origins ["myorigin"], methods GET/POST/DELETE, max age 10m.
    let p = plugin(
        r#"{"cors_allowed_origins":["myorigin"],"cors_allowed_methods":["GET","POST","DELETE"],
            "cors_max_age":"10m0s"}"#,
    );
    let r = p.cors(&preflight(Some("myorigin"), "GET", Some(&["content-type"])));
    assert_eq!(r.allow_origin.as_deref(), Some("myorigin"));
    assert_eq!(r.allow_methods.as_deref(), Some("GET"));
    assert_eq!(r.allow_headers, vec!["content-type".to_string()]);
    assert!(r.allow_credentials);
    assert_eq!(r.max_age_seconds, Some(600));
    // other origins get nothing
    assert_eq!(
        p.cors(&preflight(Some("otherorigin"), "GET", None)),
        only_vary(PREFLIGHT_VARY, true)
    );
    assert_eq!(
        p.cors(&actual("DELETE", Some("otherorigin"))),
        only_vary("Origin", false)
    );
    // an explicitly listed origin is echoed on actual requests (case-insensitive match)
    let r = p.cors(&actual("DELETE", Some("MyOrigin")));
    assert_eq!(r.allow_origin.as_deref(), Some("MyOrigin"));
    assert_eq!(r.expose_headers.as_deref(), Some(EXPOSED));
}

#[test]
fn wildcard_origins_and_credentials_off() {
    let p = plugin(
        r#"{"cors_allowed_origins":["https://*.example.com"],"cors_allow_credentials":false,
            "cors_max_age":3600}"#,
    );
    let r = p.cors(&preflight(Some("https://app.example.com"), "GET", None));
    assert_eq!(r.allow_origin.as_deref(), Some("https://app.example.com"));
    assert!(!r.allow_credentials);
    assert_eq!(r.max_age_seconds, Some(3600));
    assert!(
        p.cors(&actual("GET", Some("https://example.org")))
            .allow_origin
            .is_none()
    );
    assert!(
        p.cors(&actual("GET", Some("https://example.com")))
            .allow_origin
            .is_none()
    );
}

#[test]
fn requested_headers_rule() {
    let p = plugin("{}");
    let ok = |h: &[&str]| {
        p.cors(&preflight(Some("o"), "GET", Some(h)))
            .allow_origin
            .is_some()
    };
    assert!(ok(&["content-type"]));
    assert!(ok(&["accept,content-type"]));
    assert!(ok(&["accept, content-type"]));
    assert!(!ok(&["content-type,accept"])); // unsorted
    assert!(!ok(&["x-custom"]));
    assert!(!ok(&["accept,  content-type"])); // two spaces
    assert!(ok(&[""]));
    // an empty header value adds no Allow-Headers
    assert!(
        p.cors(&preflight(Some("o"), "GET", Some(&[""])))
            .allow_headers
            .is_empty()
    );
    let any = plugin(r#"{"cors_allowed_headers":["*"]}"#);
    assert!(
        any.cors(&preflight(Some("o"), "GET", Some(&["x-whatever"])))
            .allow_origin
            .is_some()
    );
    let custom = plugin(r#"{"cors_allowed_headers":["X-Custom","Authorization"]}"#);
    assert!(
        custom
            .cors(&preflight(
                Some("o"),
                "GET",
                Some(&["authorization,x-custom"])
            ))
            .allow_origin
            .is_some()
    );
    assert!(
        custom
            .cors(&preflight(Some("o"), "GET", Some(&["content-type"])))
            .allow_origin
            .is_none()
    );
}

#[test]
fn empty_lists_take_rs_cors_defaults() {
    let p = plugin(
        r#"{"cors_allowed_origins":[],"cors_allowed_methods":[],"cors_exposed_headers":[]}"#,
    );
    for m in ["GET", "POST", "HEAD", "OPTIONS"] {
        assert!(p.cors(&actual(m, Some("o"))).allow_origin.is_some(), "{m}");
    }
    assert!(p.cors(&actual("DELETE", Some("o"))).allow_origin.is_none());
    assert_eq!(p.cors(&actual("GET", Some("o"))).expose_headers, None);
}

#[test]
fn private_network_access() {
    let p = plugin(r#"{"cors_allow_private_network":true}"#);
    let mut r = preflight(Some("o"), "GET", None);
    r.request_private_network = Some("true".into());
    let resp = p.cors(&r);
    assert!(resp.allow_private_network);
    assert_eq!(resp.vary, vec![PREFLIGHT_VARY_PNA.to_string()]);
    assert!(!plugin("{}").cors(&r).allow_private_network);
}

#[test]
fn config_and_durations() {
    for bad in [
        r#"{"cors_max_age":"ten minutes"}"#,
        r#"{"cors_max_age":1.5}"#,
        r#"{"cors_allowed_origin":["*"]}"#,
        r#"{"cors_allow_credentials":"yes"}"#,
        "[]",
    ] {
        assert!(DefaultCors::init(bad).is_err(), "{bad}");
    }
    assert!(DefaultCors::init("").is_ok());
    assert_eq!(parse_go_duration_secs("10m0s"), Some(600));
    assert_eq!(parse_go_duration_secs("1h2m3.9s"), Some(3723));
    assert_eq!(parse_go_duration_secs("0s"), Some(0));
    assert_eq!(parse_go_duration_secs("0"), Some(0));
    assert_eq!(parse_go_duration_secs("1500ms"), Some(1));
    assert_eq!(parse_go_duration_secs("-5s"), Some(-5));
    assert_eq!(parse_go_duration_secs("5"), None);
    assert_eq!(parse_go_duration_secs(""), None);
    assert_eq!(plugin(r#"{"cors_max_age":"-1s"}"#).max_age, None);
    let schema: serde_json::Value = serde_json::from_str(&DefaultCors::config_schema()).unwrap();
    assert_eq!(
        schema["properties"]["cors_allowed_methods"]["default"][0],
        "GET"
    );
}

#[test]
fn canonical_keys() {
    assert_eq!(canonical_header_key("x-stream-output"), "X-Stream-Output");
    assert_eq!(canonical_header_key("CONTENT-TYPE"), "Content-Type");
    assert_eq!(canonical_header_key("bad header"), "bad header");
}

#[test]
fn garbage_never_panics_and_star_is_never_reflected() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    const PARTS: &[&str] = &[
        "a",
        "*",
        "http://",
        ".",
        ",",
        " ",
        "\t",
        "µ",
        "s",
        "m",
        "h",
        "1",
        "0",
        "GET",
        "POST",
        "content-type",
        "x",
        "-",
        "é",
    ];
    let mut s = |n: u64| -> String {
        (0..n % 10)
            .map(|_| PARTS[(next() % PARTS.len() as u64) as usize])
            .collect()
    };
    let configs = [
        plugin("{}"),
        plugin(
            r#"{"cors_allowed_origins":["https://*.example.com","http://a"],"cors_allowed_headers":["*"]}"#,
        ),
    ];
    for i in 0..20_000u64 {
        let _ = parse_go_duration_secs(&s(i));
        let mut r = CorsRequest::new(
            EndpointKind::Rest,
            if i.is_multiple_of(2) {
                "OPTIONS"
            } else {
                "GET"
            },
            "/",
        );
        r.origin = Some(s(i + 1));
        r.request_method = Some(s(i + 2));
        r.request_headers = Some(vec![s(i + 3), s(i + 4)]);
        let resp = configs[0].cors(&r);
        assert!(resp.allow_origin.is_none() || resp.allow_origin.as_deref() == Some("*"));
        let resp = configs[1].cors(&r);
        if let Some(o) = resp.allow_origin {
            assert_eq!(Some(o.clone()), r.origin);
            let lower = o.to_ascii_lowercase();
            assert!(
                lower == "http://a"
                    || (lower.starts_with("https://") && lower.ends_with(".example.com")),
                "{o}"
            );
        }
    }
}
