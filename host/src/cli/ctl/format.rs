//! Output of `pinfold-ctl`, byte for byte what `ipfs-cluster-ctl` v1.1.6 prints
//! (`cmd/ipfs-cluster-ctl/formatters.go`), since users' scripts grep and cut it.
//!
//! * Text: one function per object kind, each returning the exact lines (with their final
//!   newline). Lists are sorted where Go sorts them (addresses, allocations, peer maps).
//! * JSON (`--encoding json`): Go's `json.MarshalIndent(obj, "", "    ")` of the decoded object
//!   plus a newline: 4-space indent, `"key": value`, empty lists as `[]`, and Go's HTML-safe
//!   escaping of `<`, `>`, `&`, U+2028 and U+2029. Field order is the struct order of Go's types,
//!   which the shared types follow. Streams print one indented object after another (not an
//!   array), lists (metrics, alerts, names, `add --no-stream`) print one array.
//! * Errors: `An error occurred:\n  Code: N\n  Message: …\n` (stdout), or the `{"code",
//!   "message"}` object in JSON.
//!
//! Two Go quirks are kept on purpose: an undefined CID prints as `b` (go-cid's base32 of no
//! bytes), which is what `status <cid>` shows before its error when the request fails; and
//! `Sees -1 other peers` for a peer that lists no cluster peers.
//!
//! Times print in UTC (the shared [`Timestamp`] keeps no zone); Go prints them in the zone the
//! server wrote, which is UTC for Pinfold.

use serde::Serialize;

use super::humanize;
use crate::types::{
    AddedOutput, Alert, BandwidthByProtocol, GlobalPinInfo, GlobalRepoGc, Metric, PeerDescription,
    Pin, PinMode, PinType, Timestamp, Version, format_rfc3339,
};

/// Go's `fmt.Print` of an undefined CID.
pub const UNDEFINED_CID: &str = "b";

/// `json.MarshalIndent` of Go's zero `GlobalPinInfo` (printed by `status <cid>` on errors).
pub const ZERO_GLOBAL_PIN_INFO_JSON: &str = "{\n    \"cid\": null,\n    \"name\": \"\",\n    \
     \"allocations\": null,\n    \"origins\": null,\n    \"created\": \"0001-01-01T00:00:00Z\",\n    \
     \"metadata\": null,\n    \"peer_map\": null\n}\n";

/// Go's `json.MarshalIndent(v, "", "    ")` + `"\n"`.
pub fn json<T: Serialize + ?Sized>(v: &T) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser).expect("serializable output");
    let s = String::from_utf8(buf).expect("JSON is UTF-8");
    let mut out = String::with_capacity(s.len() + 1);
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

/// `textFormatPrintError`.
pub fn error_text(code: i64, message: &str) -> String {
    format!("An error occurred:\n  Code: {code}\n  Message: {message}\n")
}

/// The JSON form of an API error.
pub fn error_json(code: i64, message: &str) -> String {
    #[derive(Serialize)]
    struct E<'a> {
        code: i64,
        message: &'a str,
    }
    json(&E { code, message })
}

/// Go's `Time.Format("2006-01-02 15:04:05")` (UTC).
pub fn date_time(t: Timestamp) -> String {
    let s = format_rfc3339(t);
    s.get(..19).unwrap_or(&s).replacen('T', " ", 1)
}

/// `textFormatPrintID`.
pub fn id_text(id: &PeerDescription) -> String {
    if !id.error.is_empty() {
        return format!("{} | ERROR: {}\n", id.id, id.error);
    }
    let mut s = format!(
        "{} | {} | Sees {} other peers\n",
        id.id,
        id.peername,
        id.cluster_peers.len() as i64 - 1
    );
    let mut addrs = id.addresses.clone();
    addrs.sort();
    s.push_str("  > Addresses:\n");
    for a in addrs {
        s.push_str(&format!("    - {a}\n"));
    }
    if !id.ipfs.error.is_empty() {
        s.push_str(&format!("  > IPFS ERROR: {}\n", id.ipfs.error));
        return s;
    }
    let mut ipfs = id.ipfs.addresses.clone();
    ipfs.sort();
    s.push_str(&format!("  > IPFS: {}\n", id.ipfs.id));
    for a in ipfs {
        s.push_str(&format!("    - {a}\n"));
    }
    s
}

/// `textFormatPrintGPInfo`.
pub fn global_pin_info_text(g: &GlobalPinInfo) -> String {
    let mut s = g.cid.to_string();
    if !g.name.is_empty() {
        s.push_str(&format!(" | {}", g.name));
    }
    s.push_str(":\n");
    // BTreeMap iterates sorted by peer ID, as Go sorts the keys
    for (peer, v) in &g.peer_map {
        let who = if v.peername.is_empty() {
            peer
        } else {
            &v.peername
        };
        s.push_str(&format!(
            "    > {who:<20} : {}",
            v.status.as_str().to_uppercase()
        ));
        if !v.error.is_empty() {
            s.push_str(&format!(": {}", v.error));
        }
        s.push_str(&format!(
            " | {} | Attempts: {} | Priority: {}\n",
            format_rfc3339(v.timestamp),
            v.attempt_count,
            v.priority_pin
        ));
    }
    s
}

/// What `status <cid>` prints for Go's zero `GlobalPinInfo`.
pub fn zero_global_pin_info_text() -> String {
    format!("{UNDEFINED_CID}:\n")
}

/// `textFormatPrintPin` (a `pin ls` line).
pub fn pin_text(p: &Pin) -> String {
    let mut t = match p.pin_type {
        PinType::Bad => "BAD-TYPE".to_string(),
        other => other.as_str().to_uppercase(),
    };
    if p.options.mode == PinMode::Direct {
        t.push_str("-DIRECT");
    }
    let mut s = format!("{} | {} | {} | ", p.cid, p.options.name, t);
    if p.options.is_everywhere() {
        s.push_str("Repl. Factor: -1 | Allocations: [everywhere]");
    } else {
        let mut allocs: Vec<String> = p.allocations.iter().map(|a| a.to_base58()).collect();
        allocs.sort();
        s.push_str(&format!(
            "Repl. Factor: {}--{} | Allocations: [{}]",
            p.options.replication_factor_min,
            p.options.replication_factor_max,
            allocs.join(" ")
        ));
    }
    let rec = match p.max_depth {
        0 => "Direct".to_string(),
        -1 => "Recursive".to_string(),
        n => format!("Recursive-{n}"),
    };
    s.push_str(&format!(" | {rec}"));
    let has_meta = p.options.metadata.as_ref().is_some_and(|m| !m.is_empty());
    s.push_str(if has_meta {
        " | Metadata: yes"
    } else {
        " | Metadata: no"
    });
    let exp = if p.options.expire_at.is_zero() {
        "∞".to_string()
    } else {
        date_time(p.options.expire_at)
    };
    s.push_str(&format!(" | Exp: {exp}"));
    let added = if p.timestamp.is_zero() {
        "unknown".to_string()
    } else {
        date_time(p.timestamp)
    };
    s.push_str(&format!(" | Added: {added}\n"));
    s
}

/// `textFormatPrintAddedOutput` / `…Quiet`.
pub fn added_text(a: &AddedOutput, quiet: bool) -> String {
    let cid = a.cid.map(|c| c.to_string()).unwrap_or_default();
    if quiet {
        format!("{cid}\n")
    } else {
        format!("added {cid} {}\n", a.name)
    }
}

/// `textFormatPrintVersion`.
pub fn version_text(v: &Version) -> String {
    format!("{}\n", v.version)
}

/// `textFormatPrintMetric`; `now` in Unix nanoseconds.
pub fn metric_text(m: &Metric, now: i128) -> String {
    let v = if m.name == "freespace" && m.weight > 0 {
        humanize::bytes(m.weight as u64)
    } else {
        m.value.clone()
    };
    format!(
        "{} | {}: {} | Expires in: {}\n",
        m.peer,
        m.name,
        v,
        humanize::rel_time(m.expire as i128, now)
    )
}

/// `textFormatPrintAlert`; `now` in Unix nanoseconds.
pub fn alert_text(a: &Alert, now: i128) -> String {
    format!(
        "{}: {}. Expired at: {}. Triggered at: {}\n",
        a.metric.peer,
        a.metric.name,
        humanize::rel_time(a.metric.expire as i128, now),
        humanize::rel_time(a.triggered_at.unix_nanos(), now)
    )
}

/// `textFormatPrintBandwidthByProtocol`.
pub fn bandwidth_text(b: &BandwidthByProtocol) -> String {
    let mut s = String::new();
    for (proto, st) in b {
        s.push_str(&format!(
            "{proto:>25}: In: {:>7}. Out: {:>7}. RateIn: {:.2}B/s. RateOut: {:.2}B/s\n",
            humanize::bytes(st.total_in as u64),
            humanize::bytes(st.total_out as u64),
            st.rate_in,
            st.rate_out
        ));
    }
    s
}

/// `textFormatPrintGlobalRepoGC`.
pub fn repo_gc_text(g: &GlobalRepoGc) -> String {
    let mut s = String::new();
    for (peer, item) in &g.peer_map {
        let name = if item.peername.is_empty() {
            peer
        } else {
            &item.peername
        };
        if item.error.is_empty() {
            s.push_str(&format!("{name:<15}\n"));
        } else {
            s.push_str(&format!("{name:<15} | ERROR: {}\n", item.error));
        }
        s.push_str("  > CIDs:\n");
        for k in &item.keys {
            if !k.error.is_empty() {
                s.push_str(&format!("    - ERROR: {}\n", k.error));
                continue;
            }
            match &k.key {
                Some(c) => s.push_str(&format!("    - {c}\n")),
                None => s.push_str(&format!("    - {UNDEFINED_CID}\n")),
            }
        }
    }
    s
}

/// Metric names, one a line.
pub fn strings_text(v: &[String]) -> String {
    v.iter().map(|s| format!("{s}\n")).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use cid::Cid;
    use libp2p_identity::PeerId;

    use super::*;
    use crate::client::Bandwidth;
    use crate::types::{
        IpfsId, PinInfoShort, PinOptions, RepoGc, RepoGcKey, TrackerStatus, parse_rfc3339,
    };

    const CID: &str = "QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY";
    const P1: &str = "12D3KooWJxNtxhvCnBq8PZX7C93ZNFzGsvKXg4VnXMi9Hso5mCKE";
    const P2: &str = "12D3KooWAvhy8aWAY6VqKobcMZPnWz4qmTz7PN8GPmHhdqbWX5Gg";

    fn cid() -> Cid {
        Cid::try_from(CID).unwrap()
    }
    fn ts(s: &str) -> Timestamp {
        parse_rfc3339(s).unwrap()
    }

    #[test]
    fn id_lines() {
        let id = PeerDescription {
            id: "QmPeer".into(),
            addresses: vec![
                "/ip4/1.2.3.4/tcp/9096".into(),
                "/ip4/127.0.0.1/tcp/9096".into(),
            ],
            cluster_peers: vec!["QmPeer".into(), "QmOther".into(), "QmThird".into()],
            cluster_peers_addresses: vec![],
            version: "1.1.6".into(),
            commit: String::new(),
            rpc_protocol_version: "/ipfscluster/1.0/rpc".into(),
            error: String::new(),
            ipfs: IpfsId {
                id: "QmIpfs".into(),
                addresses: vec![
                    "/ip4/127.0.0.1/tcp/4001".into(),
                    "/ip4/10.0.0.1/tcp/4001".into(),
                ],
                error: String::new(),
            },
            peername: "peer0".into(),
        };
        assert_eq!(
            id_text(&id),
            "QmPeer | peer0 | Sees 2 other peers\n  > Addresses:\n    - /ip4/1.2.3.4/tcp/9096\n    \
             - /ip4/127.0.0.1/tcp/9096\n  > IPFS: QmIpfs\n    - /ip4/10.0.0.1/tcp/4001\n    \
             - /ip4/127.0.0.1/tcp/4001\n"
        );
        let mut down = id.clone();
        down.ipfs.error = "connection refused".into();
        assert_eq!(
            id_text(&down),
            "QmPeer | peer0 | Sees 2 other peers\n  > Addresses:\n    - /ip4/1.2.3.4/tcp/9096\n    \
             - /ip4/127.0.0.1/tcp/9096\n  > IPFS ERROR: connection refused\n"
        );
        let mut err = id;
        err.error = "context deadline exceeded".into();
        assert_eq!(id_text(&err), "QmPeer | ERROR: context deadline exceeded\n");
        err.error.clear();
        err.cluster_peers.clear();
        assert!(id_text(&err).starts_with("QmPeer | peer0 | Sees -1 other peers\n"));
    }

    fn pin() -> Pin {
        let mut p = Pin::new(
            cid(),
            PinOptions {
                name: "my pin".into(),
                replication_factor_min: 1,
                replication_factor_max: 3,
                ..Default::default()
            },
        );
        p.allocations = vec![P2.parse::<PeerId>().unwrap(), P1.parse().unwrap()];
        p.timestamp = ts("2024-05-06T07:08:09.5Z");
        p
    }

    #[test]
    fn pin_ls_lines() {
        let mut alloc = [P1, P2];
        alloc.sort();
        assert_eq!(
            pin_text(&pin()),
            format!(
                "{CID} | my pin | PIN | Repl. Factor: 1--3 | Allocations: [{} {}] | Recursive | Metadata: no \
                 | Exp: ∞ | Added: 2024-05-06 07:08:09\n",
                alloc[0], alloc[1]
            )
        );
        let mut p = pin();
        p.options.replication_factor_min = -1;
        p.options.replication_factor_max = -1;
        p.options.mode = PinMode::Direct;
        p.max_depth = 0;
        p.options.metadata = Some(BTreeMap::from([("a".into(), "b".into())]));
        p.options.expire_at = ts("2030-01-02T03:04:05Z");
        p.timestamp = Timestamp::ZERO;
        p.options.name.clear();
        assert_eq!(
            pin_text(&p),
            format!(
                "{CID} |  | PIN-DIRECT | Repl. Factor: -1 | Allocations: [everywhere] | Direct | Metadata: yes \
                 | Exp: 2030-01-02 03:04:05 | Added: unknown\n"
            )
        );
        let mut p = pin();
        p.pin_type = PinType::Shard;
        p.max_depth = 2;
        p.allocations.clear();
        assert!(
            pin_text(&p)
                .contains(" | SHARD-PIN | Repl. Factor: 1--3 | Allocations: [] | Recursive-2 |")
        );
        p.pin_type = PinType::ClusterDag;
        assert!(pin_text(&p).contains(" | CLUSTERDAG-PIN | "));
        p.pin_type = PinType::Meta;
        assert!(pin_text(&p).contains(" | META-PIN | "));
        p.pin_type = PinType::Bad;
        assert!(pin_text(&p).contains(" | BAD-TYPE | "));
    }

    fn pis(peername: &str, status: TrackerStatus, error: &str) -> PinInfoShort {
        PinInfoShort {
            peername: peername.into(),
            ipfs_peer_id: String::new(),
            ipfs_peer_addresses: vec![],
            status,
            timestamp: ts("2024-05-06T07:08:09.123Z"),
            error: error.into(),
            attempt_count: 2,
            priority_pin: false,
        }
    }

    #[test]
    fn status_block() {
        let g = GlobalPinInfo {
            cid: cid(),
            name: "n".into(),
            allocations: vec![],
            origins: vec![],
            created: Timestamp::ZERO,
            metadata: None,
            peer_map: BTreeMap::from([
                (P2.to_string(), pis("", TrackerStatus::PinError, "boom")),
                (P1.to_string(), pis("peer-one", TrackerStatus::Pinned, "")),
            ]),
        };
        let (first, second) = if P1 < P2 { (1, 2) } else { (2, 1) };
        let line = |n: i32| {
            if n == 1 {
                "    > peer-one             : PINNED | 2024-05-06T07:08:09.123Z | Attempts: 2 | Priority: false\n".to_string()
            } else {
                format!(
                    "    > {P2} : PIN_ERROR: boom | 2024-05-06T07:08:09.123Z | Attempts: 2 | Priority: false\n"
                )
            }
        };
        assert_eq!(
            global_pin_info_text(&g),
            format!("{CID} | n:\n{}{}", line(first), line(second))
        );
        let mut g2 = g;
        g2.name.clear();
        g2.peer_map.clear();
        assert_eq!(global_pin_info_text(&g2), format!("{CID}:\n"));
        assert_eq!(zero_global_pin_info_text(), "b:\n");
    }

    #[test]
    fn add_version_error_lines() {
        let a = AddedOutput {
            name: "dir/a b.txt".into(),
            cid: Some(cid()),
            bytes: 3,
            size: 11,
            allocations: vec![],
        };
        assert_eq!(added_text(&a, false), format!("added {CID} dir/a b.txt\n"));
        assert_eq!(added_text(&a, true), format!("{CID}\n"));
        assert_eq!(
            version_text(&Version {
                version: "1.1.6".into()
            }),
            "1.1.6\n"
        );
        assert_eq!(
            error_text(404, "pin is not part of the pinset"),
            "An error occurred:\n  Code: 404\n  Message: pin is not part of the pinset\n"
        );
        assert_eq!(
            error_json(500, "a <b> & c"),
            "{\n    \"code\": 500,\n    \"message\": \"a \\u003cb\\u003e \\u0026 c\"\n}\n"
        );
        assert_eq!(
            strings_text(&["ping".into(), "freespace".into()]),
            "ping\nfreespace\n"
        );
    }

    #[test]
    fn metric_and_alert_lines() {
        let now: i128 = 1_700_000_000_000_000_000;
        let m = Metric {
            name: "freespace".into(),
            peer: P1.into(),
            value: "12000000000".into(),
            expire: (now + 25_000_000_000) as i64,
            valid: true,
            weight: 12_000_000_000,
            partitionable: false,
            received_at: 0,
        };
        assert_eq!(
            metric_text(&m, now),
            format!("{P1} | freespace: 12 GB | Expires in: 25 seconds from now\n")
        );
        let mut ping = m.clone();
        ping.name = "ping".into();
        ping.value = String::new();
        ping.weight = 0;
        assert_eq!(
            metric_text(&ping, now),
            format!("{P1} | ping:  | Expires in: 25 seconds from now\n")
        );
        let a = Alert {
            metric: Metric {
                expire: (now - 120_000_000_000) as i64,
                ..ping
            },
            triggered_at: Timestamp::from_unix_seconds(1_700_000_000 - 60).unwrap(),
        };
        assert_eq!(
            alert_text(&a, now),
            format!("{P1}: ping. Expired at: 2 minutes ago. Triggered at: 1 minute ago\n")
        );
    }

    #[test]
    fn gc_and_bandwidth_lines() {
        let g = GlobalRepoGc {
            peer_map: BTreeMap::from([
                (
                    "QmA".to_string(),
                    RepoGc {
                        peer: "QmA".into(),
                        peername: "a".into(),
                        keys: vec![
                            RepoGcKey {
                                key: Some(cid()),
                                error: String::new(),
                            },
                            RepoGcKey {
                                key: None,
                                error: "bad block".into(),
                            },
                        ],
                        error: String::new(),
                    },
                ),
                (
                    "QmB".to_string(),
                    RepoGc {
                        peer: "QmB".into(),
                        peername: String::new(),
                        keys: vec![],
                        error: "ipfs down".into(),
                    },
                ),
            ]),
        };
        assert_eq!(
            repo_gc_text(&g),
            format!(
                "a{}\n  > CIDs:\n    - {CID}\n    - ERROR: bad block\nQmB{} | ERROR: ipfs down\n  > CIDs:\n",
                " ".repeat(14),
                " ".repeat(12)
            )
        );
        let b = BandwidthByProtocol::from([(
            "/ipfs/kad/1.0.0".to_string(),
            Bandwidth {
                total_in: 1234,
                total_out: 5,
                rate_in: 1.5,
                rate_out: 0.0,
            },
        )]);
        assert_eq!(
            bandwidth_text(&b),
            format!(
                "{}/ipfs/kad/1.0.0: In:  1.2 kB. Out:     5 B. RateIn: 1.50B/s. RateOut: 0.00B/s\n",
                " ".repeat(10)
            )
        );
    }

    #[test]
    fn json_like_go_marshal_indent() {
        let v = Version {
            version: "1.1.6".into(),
        };
        assert_eq!(json(&v), "{\n    \"version\": \"1.1.6\"\n}\n");
        let names: Vec<String> = vec![];
        assert_eq!(json(&names), "[]\n");
        let p = pin();
        let j = json(&p);
        assert!(j.starts_with("{\n    \"replication_factor_min\": 1,\n    \"replication_factor_max\": 3,\n    \"name\": \"my pin\",\n"), "{j}");
        assert!(j.contains("\n    \"user_allocations\": null,\n"), "{j}");
        assert!(j.contains("\n    \"pin_update\": null,\n"), "{j}");
        assert!(
            j.ends_with("    \"timestamp\": \"2024-05-06T07:08:09.5Z\"\n}\n"),
            "{j}"
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(ZERO_GLOBAL_PIN_INFO_JSON).unwrap()["created"],
            "0001-01-01T00:00:00Z"
        );
        assert_eq!(
            date_time(ts("2024-05-06T07:08:09.999Z")),
            "2024-05-06 07:08:09"
        );
    }
}
