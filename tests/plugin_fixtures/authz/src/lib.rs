//! An authorizer whose behaviour the request path selects, so one component exercises every
//! fail-safe path of the host: `/trap` panics (a trap), `/loop` spins forever (an epoch time-out),
//! `/hog` allocates until the memory cap stops it, `/log` logs through the host and allows,
//! `/slow-host` makes five host calls the test host makes slow (20 ms each) and allows;
//! otherwise Basic `admin:…` is allowed with principal `admin`, a missing credential is
//! challenged and anything else is denied with 403. `init` fails when the config contains
//! `"fail"`, and a config containing `"deny-all"` denies everything.

use std::sync::atomic::{AtomicBool, Ordering};

wit_bindgen::generate!({ world: "authorizer", path: "../../../wit/pinfold-plugin@0.1.0" });

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
            "/slow-host" => {
                for _ in 0..5 {
                    log(Level::Debug, "test-sleep-ms:20");
                }
                return allow(Some("slow-host".to_string()));
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
