//! The `authz` fixture built against `pinfold:plugin@0.2.0` (`../wit-v0.2.0`, the 0.1.0 files with
//! another version), a package version this host does not know: the host must refuse it at load
//! with a clear error instead of running it.

use std::sync::atomic::{AtomicBool, Ordering};

wit_bindgen::generate!({ world: "authorizer", path: "../wit-v0.2.0" });

use exports::pinfold::plugin::authorization::{AuthzRequest, Decision};
use pinfold::plugin::host::{Level, log, now_unix_nanos};
use pinfold::plugin::types::{AuthChallenge, Credentials, Denial, Grant};

static DENY_ALL: AtomicBool = AtomicBool::new(false);

struct Fixture;

impl exports::pinfold::plugin::lifecycle::Guest for Fixture {
    fn config_schema() -> String {
        r#"{"type":"object"}"#.to_string()
    }

    fn init(config_json: String) -> Result<(), String> {
        if config_json.contains("\"fail\"") {
            return Err("config asks init to fail".to_string());
        }
        DENY_ALL.store(config_json.contains("\"deny-all\""), Ordering::Relaxed);
        Ok(())
    }
}

impl exports::pinfold::plugin::authorization::Guest for Fixture {
    fn authorize(request: AuthzRequest) -> Decision {
        match request.path.as_str() {
            "/trap" => panic!("fixture trap"),
            "/loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "/hog" => {
                let mut chunks: Vec<Vec<u8>> = Vec::new();
                loop {
                    chunks.push(std::hint::black_box(vec![1u8; 1 << 20]));
                }
            }
            "/log" => {
                log(Level::Info, &format!("fixture log at {}", now_unix_nanos()));
                return allow(Some("logger".to_string()));
            }
            _ => {}
        }
        if DENY_ALL.load(Ordering::Relaxed) {
            return Decision::Deny(Denial {
                status: 403,
                reason: "deny-all".to_string(),
            });
        }
        match request.credentials {
            Credentials::Basic(b) if b.user == "admin" => allow(Some(b.user)),
            Credentials::None => Decision::Challenge(AuthChallenge {
                www_authenticate: vec!["Basic realm=\"pinfold\"".to_string()],
                reason: "credentials required".to_string(),
            }),
            _ => Decision::Deny(Denial {
                status: 403,
                reason: "not admin".to_string(),
            }),
        }
    }
}

fn allow(principal: Option<String>) -> Decision {
    Decision::Allow(Grant {
        principal,
        tenant: None,
    })
}

export!(Fixture);
