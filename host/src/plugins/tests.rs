//! Tests of the plugin host against real guest components built from source.
//!
//! The guests live in `tests/plugin_fixtures/`, a cargo workspace of its own. The first test
//! that needs them runs `cargo build --target wasm32-unknown-unknown --release` there, with its
//! own target dir (the outer `cargo test` holds the lock on the main one), and wraps each core
//! module into a component with the `wit-component` crate; this happens once per test binary
//! (`OnceLock`), and every test shares one engine, whose in-memory map compiles each component
//! once. The fixtures are chosen to fail in every way the host must survive: a trap, an
//! infinite loop, a memory hog, an `init` that rejects its config, a component built against
//! another WIT package version. Each test asserts the fail-safe outcome *and* that the same
//! plugin keeps answering other calls correctly.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::state::{MAX_LOG_LINES_PER_CALL, State};
use super::*;

struct Fixtures {
    authz: Vec<u8>,
    authz_v2: Vec<u8>,
    cors: Vec<u8>,
    alloc: Vec<u8>,
    authz_core_module: Vec<u8>,
}

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(build_fixtures)
}

fn build_fixtures() -> Fixtures {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/plugin_fixtures");
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => PathBuf::from(t).join("plugin-fixtures"),
        None => dir.join("target"),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let start = Instant::now();
    let out = Command::new(cargo)
        .current_dir(&dir)
        .args([
            "build",
            "--locked",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("run cargo to build the plugin fixtures");
    assert!(
        out.status.success(),
        "building tests/plugin_fixtures failed (is the wasm32-unknown-unknown target installed? \
         `rustup target add wasm32-unknown-unknown`):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("plugin fixtures built in {:?}", start.elapsed());
    let wasm_dir = target_dir.join("wasm32-unknown-unknown/release");
    let module = |name: &str| {
        std::fs::read(wasm_dir.join(format!("{name}.wasm")))
            .unwrap_or_else(|e| panic!("read fixture {name}: {e}"))
    };
    let component = |name: &str| {
        wit_component::ComponentEncoder::default()
            .module(&module(name))
            .and_then(|e| e.validate(true).encode())
            .unwrap_or_else(|e| panic!("wrap fixture {name} into a component: {e:#}"))
    };
    Fixtures {
        authz: component("fixture_authz"),
        authz_v2: component("fixture_authz_v2"),
        cors: component("fixture_cors"),
        alloc: component("fixture_alloc"),
        authz_core_module: module("fixture_authz"),
    }
}

fn engine() -> &'static PluginEngine {
    static E: OnceLock<PluginEngine> = OnceLock::new();
    E.get_or_init(|| PluginEngine::new(&EngineOptions::default()).expect("plugin engine"))
}

fn spec(id: &str, bytes: &[u8]) -> PluginSpec {
    let mut s = PluginSpec::new(id, PluginSource::Bytes(bytes.to_vec()));
    // Tests trip the breaker on purpose only; keep it out of the way elsewhere.
    s.limits.trip_after = 1000;
    // The budget is wall-clock time, and tests run in parallel on small loaded machines: give
    // well-behaved calls ample room (tests of the budget set their own).
    s.limits.time_budget = Duration::from_millis(500);
    // These tests count calls and instances: the decision cache has a test of its own.
    s.limits.decision_cache_entries = 0;
    s
}

fn cached_spec(id: &str, bytes: &[u8]) -> PluginSpec {
    let mut s = spec(id, bytes);
    s.limits.decision_cache_entries = 1024;
    s
}

fn request(path: &str, credentials: Credentials) -> AuthzRequest {
    AuthzRequest {
        endpoint: EndpointKind::Rest,
        operation: "status".to_string(),
        method: "GET".to_string(),
        path: path.to_string(),
        query: String::new(),
        remote_addr: Some("127.0.0.1:5000".to_string()),
        tls: false,
        credentials,
        remote_peer: None,
        tenant: None,
        headers: vec![],
    }
}

fn admin() -> Credentials {
    Credentials::Basic(BasicCredentials {
        user: "admin".into(),
        password: "pw".into(),
    })
}

fn is_allow_admin(d: &Decision) -> bool {
    matches!(d, Decision::Allow(Grant { principal: Some(p), .. }) if p == "admin")
}

fn is_failsafe(d: &Decision) -> bool {
    *d == failsafe_denial()
}

#[test]
fn authorizer_decides_and_counts() {
    let a = Authorizer::load(engine(), &spec("authz", &fixtures().authz)).unwrap();
    assert!(is_allow_admin(&a.authorize(&request("/pins", admin()))));
    let bob = Credentials::Basic(BasicCredentials {
        user: "bob".into(),
        password: "x".into(),
    });
    assert_eq!(
        a.authorize(&request("/pins", bob)),
        Decision::Deny(Denial {
            status: 403,
            reason: "not admin".into()
        })
    );
    match a.authorize(&request("/pins", Credentials::None)) {
        Decision::Challenge(c) => assert_eq!(c.www_authenticate, ["Basic realm=\"pinfold\""]),
        other => panic!("expected a challenge, got {other:?}"),
    }
    // The guest calls both host imports (log and clock).
    match a.authorize(&request("/log", Credentials::None)) {
        Decision::Allow(g) => assert_eq!(g.principal.as_deref(), Some("logger")),
        other => panic!("expected allow, got {other:?}"),
    }
    let s = a.stats();
    assert_eq!(
        (s.calls, s.denials, s.traps, s.timeouts, s.failsafe),
        (4, 2, 0, 0, 0)
    );
    assert_eq!(a.config_schema().as_deref(), Some(r#"{"type":"object"}"#));
    assert!(s.total_latency_nanos > 0);
    assert_eq!(
        s.instances_created, 1,
        "calls reuse the resident instance validated at load"
    );
}

#[test]
fn trap_denies_and_the_instance_is_replaced() {
    let a = Authorizer::load(engine(), &spec("authz-trap", &fixtures().authz)).unwrap();
    assert!(is_failsafe(&a.authorize(&request("/trap", admin()))));
    assert!(is_allow_admin(&a.authorize(&request("/pins", admin()))));
    assert!(is_failsafe(&a.authorize(&request("/trap", admin()))));
    assert!(is_allow_admin(&a.authorize(&request("/pins", admin()))));
    let s = a.stats();
    assert_eq!((s.traps, s.failsafe, s.denials, s.calls), (2, 2, 2, 4));
    // One at load, and one new instance after each trap.
    assert_eq!(s.instances_created, 3);
}

#[test]
fn infinite_loop_times_out_while_other_calls_succeed() {
    // The budget is wall-clock time: on a loaded 2-core machine a good call can be descheduled
    // for tens of ms, so the budget here leaves room for that.
    let mut sp = spec("authz-loop", &fixtures().authz);
    sp.limits.time_budget = Duration::from_millis(100);
    let a = Arc::new(Authorizer::load(engine(), &sp).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let good = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (a, stop, good) = (a.clone(), stop.clone(), good.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let d = a.authorize(&request("/pins", admin()));
                    assert!(is_allow_admin(&d), "{d:?} {:?}", a.stats());
                    good.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for _ in 0..3 {
        let t = Instant::now();
        assert!(is_failsafe(&a.authorize(&request("/loop", admin()))));
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(90),
            "stopped too early: {took:?}"
        );
        assert!(
            took < Duration::from_secs(2),
            "the epoch deadline did not stop it: {took:?}"
        );
        eprintln!("infinite loop stopped after {took:?} (budget 100 ms)");
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert!(good.load(Ordering::Relaxed) > 0);
    let s = a.stats();
    assert_eq!((s.timeouts, s.traps), (3, 0));
}

#[test]
fn memory_hog_hits_the_cap() {
    let mut sp = spec("authz-hog", &fixtures().authz);
    sp.limits.memory_bytes = 8 << 20;
    let a = Authorizer::load(engine(), &sp).unwrap();
    let t = Instant::now();
    assert!(is_failsafe(&a.authorize(&request("/hog", admin()))));
    eprintln!(
        "memory hog stopped at the 8 MiB cap after {:?}",
        t.elapsed()
    );
    assert!(is_allow_admin(&a.authorize(&request("/pins", admin()))));
    let s = a.stats();
    assert_eq!((s.out_of_memory, s.traps, s.timeouts), (1, 0, 0));
}

#[test]
fn breaker_trips_and_a_reload_resets_it() {
    let mut sp = spec("authz-breaker", &fixtures().authz);
    sp.limits.trip_after = 3;
    let slot = PluginSlot::new(Authorizer::load(engine(), &sp).unwrap());
    for _ in 0..3 {
        assert!(is_failsafe(
            &slot.get().authorize(&request("/trap", admin()))
        ));
    }
    // Tripped: even a good request gets the fail-safe, without entering wasm.
    let created = slot.get().stats().instances_created;
    assert!(is_failsafe(
        &slot.get().authorize(&request("/pins", admin()))
    ));
    let s = slot.get().stats();
    assert!(s.tripped);
    assert_eq!((s.traps, s.failsafe), (3, 4));
    assert_eq!(s.instances_created, created);
    slot.reload(|| Authorizer::load(engine(), &sp)).unwrap();
    assert!(is_allow_admin(
        &slot.get().authorize(&request("/pins", admin()))
    ));
    assert!(!slot.get().stats().tripped);
}

#[test]
fn other_wit_version_is_refused_at_load() {
    let err = Authorizer::load(engine(), &spec("v2", &fixtures().authz_v2)).unwrap_err();
    assert!(matches!(err, PluginError::WrongVersion { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("pinfold:plugin@0.2.0") && text.contains(WIT_PACKAGE),
        "{text}"
    );
}

#[test]
fn wrong_world_core_module_and_pin_are_refused() {
    let f = fixtures();
    let err = Authorizer::load(engine(), &spec("cors-as-authz", &f.cors)).unwrap_err();
    assert!(
        matches!(
            err,
            PluginError::WorldMismatch {
                world: "authorizer",
                ..
            }
        ),
        "{err}"
    );
    let err = Authorizer::load(engine(), &spec("core", &f.authz_core_module)).unwrap_err();
    assert!(err.to_string().contains("core module"), "{err}");
    let mut sp = spec("pinned", &f.authz);
    sp.sha256 = Some("00".repeat(32));
    let err = Authorizer::load(engine(), &sp).unwrap_err();
    assert!(matches!(err, PluginError::Sha256Mismatch { .. }), "{err}");
    let good = Authorizer::load(engine(), &spec("x", &f.authz))
        .unwrap()
        .sha256()
        .to_string();
    sp.sha256 = Some(good.to_uppercase());
    Authorizer::load(engine(), &sp).unwrap();
}

#[test]
fn init_error_is_a_load_error() {
    let mut sp = spec("authz-badconfig", &fixtures().authz);
    sp.config_json = r#"{"fail": true}"#.to_string();
    let err = Authorizer::load(engine(), &sp).unwrap_err();
    match &err {
        PluginError::InitRejected { message, .. } => {
            assert_eq!(message, "config asks init to fail")
        }
        other => panic!("expected InitRejected, got {other}"),
    }
    // The configuration reaches the guest: deny-all.
    sp.config_json = r#"{"deny-all": true}"#.to_string();
    let a = Authorizer::load(engine(), &sp).unwrap();
    assert_eq!(
        a.authorize(&request("/pins", admin())),
        Decision::Deny(Denial {
            status: 403,
            reason: "deny-all".into()
        })
    );
}

#[test]
fn file_source_loads_and_missing_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authz.wasm");
    std::fs::write(&path, &fixtures().authz).unwrap();
    let a = Authorizer::load(engine(), &spec_file("f", &path)).unwrap();
    assert!(is_allow_admin(&a.authorize(&request("/pins", admin()))));
    let err = Authorizer::load(engine(), &spec_file("f", &dir.path().join("nope.wasm")));
    assert!(matches!(err, Err(PluginError::Io { .. })));
}

fn spec_file(id: &str, path: &Path) -> PluginSpec {
    PluginSpec::new(id, PluginSource::File(path.to_path_buf()))
}

fn cors_request(method: &str, origin: Option<&str>, preflight: bool) -> CorsRequest {
    CorsRequest {
        endpoint: EndpointKind::Rest,
        method: method.to_string(),
        path: "/pins".to_string(),
        origin: origin.map(str::to_string),
        request_method: preflight.then(|| "POST".to_string()),
        request_headers: None,
        request_private_network: None,
    }
}

#[test]
fn cors_decides_and_fails_safe_with_no_headers() {
    let c = Cors::load(engine(), &spec("cors", &fixtures().cors)).unwrap();
    let pre = c.decide(&cors_request("OPTIONS", Some("https://ok.example"), true));
    assert!(pre.preflight);
    assert_eq!(pre.allow_origin.as_deref(), Some("https://ok.example"));
    assert_eq!(pre.max_age_seconds, Some(600));
    assert_eq!(
        c.decide(&cors_request("GET", Some("https://evil.example"), false)),
        super::worlds::failsafe_cors()
    );
    let trapped = c.decide(&cors_request("OPTIONS", Some("https://trap.example"), true));
    assert_eq!(trapped, super::worlds::failsafe_cors());
    let again = c.decide(&cors_request("GET", Some("https://ok.example"), false));
    assert_eq!(again.allow_origin.as_deref(), Some("https://ok.example"));
    assert!(!again.preflight);
    assert_eq!(c.stats().traps, 1);
}

fn metric(peer: &str, weight: i64) -> Metric {
    Metric {
        name: "freespace".into(),
        peer: peer.into(),
        value: weight.to_string(),
        weight,
        partitionable: false,
        valid: true,
        expire: i64::MAX,
    }
}

#[test]
fn allocator_orders_and_falls_back_to_the_built_in_order() {
    let a = Allocator::load(engine(), &spec("alloc", &fixtures().alloc)).unwrap();
    assert_eq!(a.metrics(), Some(vec!["freespace".to_string()]));
    let candidates = [metric("p1", 10), metric("p2", 30), metric("p3", 20)];
    let priority = [metric("p9", 5)];
    let fallback: Vec<String> = vec!["p1".into(), "p3".into()];
    assert_eq!(
        a.allocate("bafy", &[], &candidates, &priority, &fallback),
        ["p2", "p3", "p1", "p9"]
    );
    assert_eq!(
        a.allocate("trap", &[], &candidates, &priority, &fallback),
        fallback
    );
    assert_eq!(
        a.allocate("error", &[], &candidates, &priority, &fallback),
        fallback
    );
    assert_eq!(
        a.allocate("bafy", &[], &candidates, &[], &fallback),
        ["p2", "p3", "p1"]
    );
    let s = a.stats();
    assert_eq!((s.traps, s.failsafe), (1, 2));
}

#[test]
fn hot_reload_under_concurrent_calls() {
    let f = fixtures();
    let allow = spec("authz-reload", &f.authz);
    let mut deny = allow.clone();
    deny.config_json = r#"{"deny-all": true}"#.to_string();
    let mut broken = allow.clone();
    broken.config_json = r#"{"fail": true}"#.to_string();
    let slot = Arc::new(PluginSlot::new(Authorizer::load(engine(), &allow).unwrap()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (slot, stop) = (slot.clone(), stop.clone());
            std::thread::spawn(move || {
                let (mut allowed, mut denied) = (0u64, 0u64);
                while !stop.load(Ordering::Relaxed) {
                    let d = slot.get().authorize(&request("/pins", admin()));
                    match d {
                        ref d if is_allow_admin(d) => allowed += 1,
                        Decision::Deny(Denial {
                            status: 403,
                            ref reason,
                        }) if reason == "deny-all" => denied += 1,
                        other => {
                            panic!("a request failed for a reason other than the policy: {other:?}")
                        }
                    }
                }
                (allowed, denied)
            })
        })
        .collect();
    for round in 0..6 {
        std::thread::sleep(Duration::from_millis(20));
        let next = if round % 2 == 0 { &deny } else { &allow };
        slot.reload(|| Authorizer::load(engine(), next)).unwrap();
        // A reload whose init fails leaves the current version in place.
        assert!(slot.reload(|| Authorizer::load(engine(), &broken)).is_err());
    }
    std::thread::sleep(Duration::from_millis(20));
    stop.store(true, Ordering::Relaxed);
    let (mut allowed, mut denied) = (0, 0);
    for w in workers {
        let (a, d) = w.join().unwrap();
        allowed += a;
        denied += d;
    }
    eprintln!("hot reload: {allowed} allowed, {denied} denied by policy, 0 failed");
    assert!(allowed > 0 && denied > 0);
    // The last reload installed the allowing version.
    assert!(is_allow_admin(
        &slot.get().authorize(&request("/pins", admin()))
    ));
}

#[test]
fn disk_cache_second_engine_deserializes() {
    let dir = tempfile::tempdir().unwrap();
    let options = EngineOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let bytes = &fixtures().cors;
    let e1 = PluginEngine::new(&options).unwrap();
    let t = Instant::now();
    Cors::load(&e1, &spec("cors", bytes)).unwrap();
    let cold = t.elapsed();
    assert_eq!(e1.disk_cache_counts(), Some((0, 1)));
    // A new engine (a restarted daemon) with the same folder finds the compiled component.
    let e2 = PluginEngine::new(&options).unwrap();
    let t = Instant::now();
    let c = Cors::load(&e2, &spec("cors", bytes)).unwrap();
    let warm = t.elapsed();
    assert_eq!(e2.disk_cache_counts(), Some((1, 0)));
    assert!(
        c.decide(&cors_request("GET", Some("https://ok.example"), false))
            .allow_origin
            .is_some()
    );
    eprintln!("load with compile: {cold:?}; load from the disk cache: {warm:?}");
}

#[test]
fn host_imports_without_wasm() {
    use super::bindings::authorizer::pinfold::plugin::host::Host;
    let mut state = State::new("direct".into(), 1 << 20, Default::default());
    let now = state.now_unix_nanos();
    let sys = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    assert!((sys.as_nanos() as i64 - now).abs() < 5_000_000_000);
    for i in 0..(MAX_LOG_LINES_PER_CALL + 5) {
        state.log(
            GuestLogLevel::Info,
            format!("line {i} {}", "x".repeat(5000)),
        );
    }
    assert_eq!(state.log_lines, MAX_LOG_LINES_PER_CALL);
    assert_eq!(state.log_dropped, 5);
    use wasmtime::ResourceLimiter;
    assert!(state.memory_growing(0, 1 << 20, None).unwrap());
    assert!(!state.hit_memory_cap);
    assert!(
        !state
            .memory_growing(1 << 20, (1 << 20) + 65536, None)
            .unwrap()
    );
    assert!(state.hit_memory_cap);
}

#[test]
fn budget_ticks_round_up() {
    assert_eq!(PluginEngine::budget_ticks(Duration::from_millis(50)), 6);
    assert_eq!(PluginEngine::budget_ticks(Duration::from_millis(1)), 2);
    assert_eq!(PluginEngine::budget_ticks(Duration::ZERO), 2);
}

/// Measures the two instance models (figures in the report; `--nocapture` to see them).
#[test]
fn instance_model_costs() {
    let f = fixtures();
    // Component::new without any cache: a fresh engine.
    let e = PluginEngine::new(&EngineOptions::default()).unwrap();
    let t = Instant::now();
    let _ = Authorizer::load(&e, &spec("compile", &f.authz)).unwrap();
    let compile = t.elapsed();
    let resident = Authorizer::load(engine(), &spec("resident", &f.authz)).unwrap();
    let mut fresh_spec = spec("fresh", &f.authz);
    fresh_spec.limits.fresh_instance_per_call = true;
    let fresh = Authorizer::load(engine(), &fresh_spec).unwrap();
    let req = request("/pins", admin());
    let time = |a: &Authorizer, n: u32| {
        for _ in 0..10 {
            a.authorize(&req);
        }
        let t = Instant::now();
        for _ in 0..n {
            assert!(is_allow_admin(&a.authorize(&req)));
        }
        t.elapsed() / n
    };
    let warm = time(&resident, 500);
    let cold = time(&fresh, 200);
    eprintln!(
        "instance model ({} build, pooled={}): load incl. Component::new {compile:?}; resident \
         instance call {warm:?}; fresh instance + init + call {cold:?}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        engine().is_pooled()
    );
    assert!(
        warm < cold,
        "a resident call should be cheaper than a fresh instance"
    );
    assert_eq!(resident.stats().instances_created, 1);
    assert_eq!(fresh.stats().instances_created, 211);
}

/// A component importing a WASI interface (as every std `wasm32-wasip2` guest does) is refused
/// with a clear error. The component is made from WIT alone (`wit_component::dummy_module`),
/// so the test needs no WASI toolchain.
#[test]
fn wasi_importing_component_is_refused() {
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve
        .push_str(
            "wasi.wit",
            "package wasi:cli@0.2.6;\n\
             interface environment { get-arguments: func() -> list<string>; }\n\
             world uses-wasi { import environment; export run: func(); }\n",
        )
        .unwrap();
    let world = resolve.select_world(&[pkg], Some("uses-wasi")).unwrap();
    let mut module =
        wit_component::dummy_module(&resolve, world, wit_parser::ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
        true,
    )
    .unwrap();
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|e| e.validate(true).encode())
        .unwrap();
    let err = Authorizer::load(engine(), &spec("wasi", &component)).unwrap_err();
    match &err {
        PluginError::ImportsWasi { import, .. } => {
            assert_eq!(import, "wasi:cli/environment@0.2.6")
        }
        other => panic!("expected ImportsWasi, got {other}"),
    }
    assert!(
        err.to_string().contains("which Pinfold does not grant"),
        "{err}"
    );
}

/// Time spent in a host import is not billed to the plugin: a guest that spends 5 × 20 ms in
/// a (simulated) slow host call, with a 50 ms budget, is not timed out.
#[test]
fn slow_host_call_is_not_billed_to_the_plugin() {
    let mut sp = spec("authz-slowhost", &fixtures().authz);
    sp.limits.time_budget = Duration::from_millis(50);
    let a = Authorizer::load(engine(), &sp).unwrap();
    let t = Instant::now();
    match a.authorize(&request("/slow-host", admin())) {
        Decision::Allow(g) => assert_eq!(g.principal.as_deref(), Some("slow-host")),
        other => panic!("expected allow, got {other:?}"),
    }
    assert!(t.elapsed() >= Duration::from_millis(100));
    assert_eq!(a.stats().timeouts, 0);
    // The budget still applies to the guest's own time.
    assert!(is_failsafe(&a.authorize(&request("/loop", admin()))));
    assert_eq!(a.stats().timeouts, 1);
}

#[test]
fn call_hook_moves_the_deadline_by_host_time() {
    let epoch = std::sync::Arc::new(AtomicU64::new(100));
    let mut state = State::new("hook".into(), 1 << 20, epoch.clone());
    assert_eq!(state.start_budget(5), 5);
    assert_eq!(state.deadline_epoch, 105);
    assert_eq!(state.on_call_hook(wasmtime::CallHook::CallingHost), None);
    epoch.store(103, Ordering::Relaxed);
    // 3 ticks in the host: the deadline moves from 105 to 108, 5 ticks from now.
    assert_eq!(
        state.on_call_hook(wasmtime::CallHook::ReturningFromHost),
        Some(5)
    );
    assert_eq!(state.deadline_epoch, 108);
    // No time in the host: nothing changes.
    state.on_call_hook(wasmtime::CallHook::CallingHost);
    assert_eq!(
        state.on_call_hook(wasmtime::CallHook::ReturningFromHost),
        None
    );
}

/// A burst of callers larger than the plugin's concurrency limit (and than the engine's whole
/// instance pool) waits for instances instead of failing: every call gets the policy's answer.
#[test]
fn bursts_wait_for_an_instance_instead_of_failing() {
    let small = PluginEngine::new(&EngineOptions {
        max_instances: 8,
        ..Default::default()
    })
    .expect("small engine");
    let mut sp = spec("authz-burst", &fixtures().authz);
    sp.limits.max_concurrent_calls = 3;
    let a = Arc::new(Authorizer::load(&small, &sp).unwrap());
    let threads: Vec<_> = (0..24)
        .map(|_| {
            let a = a.clone();
            std::thread::spawn(move || {
                for _ in 0..20 {
                    assert!(is_allow_admin(&a.authorize(&request("/pins", admin()))));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = a.stats();
    assert_eq!((s.calls, s.failsafe), (480, 0));
    assert!(
        s.instances_created <= 4,
        "{} instances for 3 concurrent calls",
        s.instances_created
    );
}

/// The default plugins committed in `plugins/dist/` (built by the guest side) load and answer
/// without failing. Skipped while that folder is absent (before the guest side lands);
/// `PINFOLD_TEST_PLUGIN_DIST` points it at another folder.
#[test]
fn committed_default_plugins_load_and_answer() {
    let dist = std::env::var_os("PINFOLD_TEST_PLUGIN_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist"));
    let file = |name: &str| dist.join(name);
    if !file("authz-default.wasm").exists() {
        eprintln!("no default plugins in {dist:?}; skipped");
        return;
    }
    let a = Authorizer::load(
        engine(),
        &spec_file("authz-default", &file("authz-default.wasm")),
    )
    .unwrap();
    let d = a.authorize(&request("/id", Credentials::None));
    eprintln!("authz-default, no credentials configured, GET /id: {d:?}");
    assert!(matches!(d, Decision::Allow(_)), "{d:?}");
    let c = Cors::load(
        engine(),
        &spec_file("cors-default", &file("cors-default.wasm")),
    )
    .unwrap();
    let r = c.decide(&cors_request("OPTIONS", Some("https://ok.example"), true));
    eprintln!("cors-default preflight: {r:?}");
    let al = Allocator::load(
        engine(),
        &spec_file("allocator-balanced", &file("allocator-balanced.wasm")),
    )
    .unwrap();
    let metrics = al.metrics();
    eprintln!("allocator-balanced metrics: {metrics:?}");
    assert!(metrics.is_some());
    for s in [a.stats(), c.stats(), al.stats()] {
        assert_eq!((s.failsafe, s.traps, s.timeouts), (0, 0, 0), "{s:?}");
    }
}

/// Pure decisions are remembered per plugin version; decisions that read the clock, failures,
/// fresh-instance plugins and a zero-sized cache are not.
#[test]
fn decision_cache() {
    let a = Authorizer::load(engine(), &cached_spec("authz-cache", &fixtures().authz)).unwrap();
    let req = request("/pins", admin());
    for _ in 0..3 {
        assert!(is_allow_admin(&a.authorize(&req)));
    }
    let s = a.stats();
    assert_eq!((s.calls, s.cache_hits), (1, 2), "{s:?}");
    // another request is another key
    let other = request("/pins", Credentials::None);
    assert!(matches!(a.authorize(&other), Decision::Challenge(_)));
    assert!(matches!(a.authorize(&other), Decision::Challenge(_)));
    let s = a.stats();
    assert_eq!((s.calls, s.cache_hits, s.denials), (2, 3, 2), "{s:?}");
    // `/log` reads the clock: never cached
    let clock = request("/log", admin());
    a.authorize(&clock);
    a.authorize(&clock);
    assert_eq!(a.stats().calls, 4);
    // failures are not cached
    let trap = request("/trap", admin());
    assert!(is_failsafe(&a.authorize(&trap)));
    assert!(is_failsafe(&a.authorize(&trap)));
    assert_eq!(a.stats().calls, 6);

    for (fresh, entries) in [(true, 1024), (false, 0)] {
        let mut sp = cached_spec("authz-nocache", &fixtures().authz);
        sp.limits.fresh_instance_per_call = fresh;
        sp.limits.decision_cache_entries = entries;
        let a = Authorizer::load(engine(), &sp).unwrap();
        a.authorize(&req);
        a.authorize(&req);
        let s = a.stats();
        assert_eq!(
            (s.calls, s.cache_hits),
            (2, 0),
            "fresh={fresh} entries={entries}"
        );
    }

    // CORS too
    let c = Cors::load(engine(), &cached_spec("cors-cache", &fixtures().cors)).unwrap();
    let creq = CorsRequest {
        endpoint: EndpointKind::Rest,
        method: "GET".into(),
        path: "/id".into(),
        origin: Some("https://a.example".into()),
        request_method: None,
        request_headers: None,
        request_private_network: None,
    };
    let first = c.decide(&creq);
    assert_eq!(c.decide(&creq), first);
    assert_eq!(c.stats().cache_hits, 1);
}
