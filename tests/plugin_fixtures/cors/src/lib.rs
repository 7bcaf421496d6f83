//! A CORS policy: allows the origin `https://ok.example` (a preflight when the method is
//! `OPTIONS` with `Access-Control-Request-Method`), adds nothing for other origins, and traps
//! when the origin is `https://trap.example`.

wit_bindgen::generate!({ world: "cors", path: "../../../wit/pinfold-plugin@0.1.0" });

use exports::pinfold::plugin::cross_origin::{CorsRequest, CorsResponse};

struct Fixture;

impl exports::pinfold::plugin::lifecycle::Guest for Fixture {
    fn config_schema() -> String {
        "{}".to_string()
    }
    fn init(_config_json: String) -> Result<(), String> {
        Ok(())
    }
}

impl exports::pinfold::plugin::cross_origin::Guest for Fixture {
    fn cors(request: CorsRequest) -> CorsResponse {
        let mut response = CorsResponse {
            preflight: false,
            vary: vec![],
            allow_origin: None,
            allow_methods: None,
            allow_headers: vec![],
            allow_credentials: false,
            allow_private_network: false,
            expose_headers: None,
            max_age_seconds: None,
        };
        match request.origin.as_deref() {
            Some("https://trap.example") => panic!("fixture trap"),
            Some("https://ok.example") => {
                response.vary = vec!["Origin".to_string()];
                response.allow_origin = Some("https://ok.example".to_string());
                if request.method == "OPTIONS" && request.request_method.is_some() {
                    response.preflight = true;
                    response.allow_methods = Some("GET, POST".to_string());
                    response.max_age_seconds = Some(600);
                }
            }
            _ => {}
        }
        response
    }
}

export!(Fixture);
