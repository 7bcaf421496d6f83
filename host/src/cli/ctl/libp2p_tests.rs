//! `pinfold-ctl` against the REST API over libp2p: the command line opens the client's tunnel
//! to a swarm that serves the REST router on `/libp2p-http` (the server side and its helpers
//! are the REST API's own tests, `api::rest::tests::over_libp2p`).

use crate::api::rest::tests::SELF_PEER;
use crate::api::rest::tests::over_libp2p::{hex, start_p2p};
use crate::config::ClusterSecret;

use super::tests::ctl;

#[tokio::test]
async fn libp2p_http_ctl_uses_a_p2p_host_with_the_secret() {
    let secret = ClusterSecret::generate();
    let (swarm, addr, _stop) = start_p2p(Some(secret.clone())).await;
    let host = addr.to_string();
    let (code, out, err) = ctl(&["--host", &host, "--secret", &hex(&secret), "id"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(SELF_PEER), "{out}");
    let (code, out, err) = ctl(&["--host", &host, "--secret", &hex(&secret), "peers", "ls"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.matches("Sees").count(), 3, "{out}");

    let other = hex(&ClusterSecret::generate());
    let (code, out, err) = ctl(&["--host", &host, "--secret", &other, "id"]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("secret mismatch"), "{err}");
    let (code, _, err) = ctl(&["--host", &host, "--secret", "abcd", "id"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("32 bytes"), "{err}");
    swarm.shutdown().await;
}
