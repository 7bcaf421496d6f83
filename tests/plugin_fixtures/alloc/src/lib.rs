//! An allocator: orders candidates and priority peers by descending weight of their
//! `freespace` metric; a cid of `trap` traps and a cid of `error` returns an error.

wit_bindgen::generate!({ world: "allocator", path: "../../../wit/pinfold-plugin@0.1.0" });

use exports::pinfold::plugin::placement::{Metric, PeerId};

struct Fixture;

impl exports::pinfold::plugin::lifecycle::Guest for Fixture {
    fn config_schema() -> String {
        "{}".to_string()
    }
    fn init(_config_json: String) -> Result<(), String> {
        Ok(())
    }
}

impl exports::pinfold::plugin::placement::Guest for Fixture {
    fn metrics() -> Vec<String> {
        vec!["freespace".to_string()]
    }

    fn allocate(
        cid: String,
        _current: Vec<Metric>,
        candidates: Vec<Metric>,
        priority: Vec<Metric>,
    ) -> Result<Vec<PeerId>, String> {
        match cid.as_str() {
            "trap" => panic!("fixture trap"),
            "error" => return Err("fixture error".to_string()),
            _ => {}
        }
        let mut all: Vec<Metric> = priority.into_iter().chain(candidates).collect();
        all.sort_by(|a, b| b.weight.cmp(&a.weight));
        Ok(all.into_iter().map(|m| m.peer).collect())
    }
}

export!(Fixture);
