//! A policy is plain Rust: implement the traits and test them natively, host imports included.

use pinfold_plugin_sdk::host::{self, testing};
use pinfold_plugin_sdk::types::*;
use pinfold_plugin_sdk::{Authorizer, Plugin};

/// Allows loopback clients only, during office hours (UTC), and logs refusals.
struct LoopbackOfficeHours {
    open_hour: i64,
    close_hour: i64,
}

impl Plugin for LoopbackOfficeHours {
    fn config_schema() -> String {
        r#"{"type":"object","properties":{"open":{"type":"integer"},"close":{"type":"integer"}}}"#
            .into()
    }

    fn init(config_json: &str) -> Result<Self, String> {
        let hours: Vec<i64> = config_json
            .trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .map(|s| s.trim().parse::<i64>().map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        match hours.as_slice() {
            [open, close] if open < close => Ok(LoopbackOfficeHours {
                open_hour: *open,
                close_hour: *close,
            }),
            _ => Err("expected [open, close]".into()),
        }
    }
}

impl Authorizer for LoopbackOfficeHours {
    fn authorize(&self, req: &AuthzRequest) -> Decision {
        let hour = host::now_unix_seconds().rem_euclid(86_400) / 3600;
        let loopback = req
            .remote_addr
            .as_deref()
            .is_some_and(|a| a.starts_with("127.") || a.starts_with("[::1]"));
        if loopback && (self.open_hour..self.close_hour).contains(&hour) {
            Decision::allow_anonymous()
        } else {
            host::log(Level::Info, &format!("refused {} {}", req.method, req.path));
            Decision::deny(403, "forbidden")
        }
    }
}

#[test]
fn a_policy_is_tested_natively_with_the_host_double() {
    let p = LoopbackOfficeHours::init("[9, 17]").unwrap();
    assert!(LoopbackOfficeHours::init("[17, 9]").is_err());
    let mut req = AuthzRequest::new(EndpointKind::Rest, "GET", "/pins");
    req.remote_addr = Some("127.0.0.1:4000".into());

    testing::set_now_unix_seconds(10 * 3600); // 10:00 UTC
    assert_eq!(p.authorize(&req), Decision::allow_anonymous());

    testing::set_now_unix_seconds(20 * 3600); // 20:00 UTC
    assert_eq!(p.authorize(&req), Decision::deny(403, "forbidden"));
    assert_eq!(
        testing::take_logs(),
        vec![(Level::Info, "refused GET /pins".to_string())]
    );
    testing::set_now_unix_nanos(None);
    assert!(host::now_unix_nanos() > 1_700_000_000_000_000_000);
}
