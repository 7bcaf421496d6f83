//! `health graph`: the cluster's connectivity as a graphviz dot file, exactly as
//! `ipfs-cluster-ctl` writes it (`cmd/ipfs-cluster-ctl/graph.go` with `ipfs-cluster/go-dot`).
//!
//! Cluster peers are boxes named `C<n>` (the contacted peer has a double border, trusted peers
//! are `T<n>`), IPFS daemons are cylinders `I<n>`; numbering follows the sorted peer IDs.
//! A cluster peer whose IPFS daemon is unknown gets an "Errored" IPFS node and a dotted edge.
//! Without `--all-ipfs-peers` only IPFS peers that belong to the cluster are drawn.
//! As in Go, the file ends with `}` and no newline. An edge to a peer that has no node (Go
//! would crash on it) is left out.

use std::collections::BTreeMap;

use crate::client::ConnectGraph;

#[derive(Clone, Copy, PartialEq, Eq)]
enum NodeType {
    SelfCluster,
    Cluster,
    TrustedCluster,
    Ipfs,
    IpfsMissing,
}

fn shorten(id: &str) -> String {
    if id.len() < 8 || !id.is_ascii() {
        return id.to_string();
    }
    format!("{}*{}", &id[..2], &id[id.len() - 6..])
}

fn label(peername: &str, id: &str) -> String {
    format!("< <B> {peername} </B> <BR/> <B> {id} </B> >")
}

struct Vertex {
    id: String,
    label: String,
    group: String,
    color: &'static str,
    shape: &'static str,
    peripheries: u32,
}

impl Vertex {
    fn line(&self) -> String {
        // go-dot writes the non-empty fields in struct order; HTML-like labels unquoted
        let mut s = format!(
            "{} [label={} group=\"{}\" color=\"{}\" ",
            self.id, self.label, self.group, self.color
        );
        s.push_str("style=\"filled\" colorscheme=\"x11\" fontcolor=\"black\" fontname=\"Arial\" ");
        s.push_str(&format!("shape=\"{}\" ", self.shape));
        if self.peripheries != 0 {
            s.push_str(&format!("peripheries=\"{}\" ", self.peripheries));
        }
        s.push(']');
        s
    }
}

struct Writer<'a> {
    cg: &'a ConnectGraph,
    cluster_nodes: BTreeMap<String, String>,
    ipfs_nodes: BTreeMap<String, String>,
}

impl Writer<'_> {
    fn add_node(&mut self, lines: &mut Vec<String>, id: &str, t: NodeType) {
        let peername = self
            .cg
            .id_to_peername
            .get(id)
            .map(String::as_str)
            .unwrap_or("");
        let (vid, lbl, color, shape, peripheries) = match t {
            NodeType::SelfCluster => (
                format!("C{}", self.cluster_nodes.len()),
                label(peername, &shorten(id)),
                "orange",
                "box3d",
                2,
            ),
            NodeType::TrustedCluster => (
                format!("T{}", self.cluster_nodes.len()),
                label(peername, &shorten(id)),
                "orange",
                "box3d",
                0,
            ),
            NodeType::Cluster => (
                format!("C{}", self.cluster_nodes.len()),
                label(peername, &shorten(id)),
                "darkorange3",
                "box3d",
                0,
            ),
            NodeType::Ipfs => (
                format!("I{}", self.ipfs_nodes.len()),
                label("IPFS", &shorten(id)),
                "turquoise3",
                "cylinder",
                0,
            ),
            NodeType::IpfsMissing => (
                format!("I{}", self.ipfs_nodes.len()),
                label("IPFS", "Errored"),
                "firebrick1",
                "cylinder",
                0,
            ),
        };
        let v = Vertex {
            id: vid.clone(),
            label: lbl,
            group: id.to_string(),
            color,
            shape,
            peripheries,
        };
        lines.push(v.line());
        match t {
            NodeType::Ipfs | NodeType::IpfsMissing => self.ipfs_nodes.insert(id.to_string(), vid),
            _ => self.cluster_nodes.insert(id.to_string(), vid),
        };
    }
}

fn subgraph(rank: &str, nodes: &[String]) -> String {
    let mut s = format!("subgraph  {{\nrank=\"{rank}\"\n");
    for n in nodes {
        s.push_str(n);
        s.push('\n');
    }
    s.push('}');
    s
}

/// The dot file (`makeDot`).
pub fn make_dot(cg: &ConnectGraph, all_ipfs: bool) -> String {
    let mut ipfs_edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in &cg.ipfs_links {
        let mut edges = Vec::new();
        for id in v {
            if cg.ipfs_links.contains_key(id) || all_ipfs {
                edges.push(id.clone());
            }
            if all_ipfs {
                ipfs_edges.entry(id.clone()).or_default();
            }
        }
        ipfs_edges.insert(k.clone(), edges);
    }
    let mut w = Writer {
        cg,
        cluster_nodes: BTreeMap::new(),
        ipfs_nodes: BTreeMap::new(),
    };
    let mut body: Vec<String> = vec![
        "/* The nodes of the connectivity graph */".into(),
        "/* The cluster-service peers */".into(),
    ];
    let cluster_keys: Vec<&String> = cg.cluster_links.keys().collect();
    let mut nodes = Vec::new();
    for k in &cluster_keys {
        let t = if **k == cg.cluster_id {
            NodeType::SelfCluster
        } else if cg.cluster_trust_links.get(*k).copied().unwrap_or(false) {
            NodeType::TrustedCluster
        } else {
            NodeType::Cluster
        };
        w.add_node(&mut nodes, k, t);
    }
    body.push(subgraph("min", &nodes));
    body.push(String::new());
    body.push("/* The ipfs peers */".into());
    let mut nodes = Vec::new();
    for k in ipfs_edges.keys() {
        w.add_node(&mut nodes, k, NodeType::Ipfs);
    }
    for k in &cluster_keys {
        if !cg.cluster_to_ipfs.contains_key(*k) {
            w.add_node(&mut nodes, k, NodeType::IpfsMissing);
        }
    }
    body.push(subgraph("max", &nodes));
    body.push(String::new());
    body.push("/* Edges representing active connections in the cluster */".into());
    body.push("/* The connections among cluster-service peers */".into());
    for k in &cluster_keys {
        for id in &cg.cluster_links[*k] {
            if let (Some(to), Some(from)) = (w.cluster_nodes.get(*k), w.cluster_nodes.get(id)) {
                body.push(format!("{to} -> {from}"));
            }
        }
    }
    body.push(String::new());
    body.push("/* The connections between cluster peers and their ipfs daemons */".into());
    for k in &cluster_keys {
        let Some(to) = w.cluster_nodes.get(*k) else {
            continue;
        };
        match cg.cluster_to_ipfs.get(*k) {
            None => {
                if let Some(from) = w.ipfs_nodes.get(*k) {
                    body.push(format!("{to} -> {from} [ style=\"dotted\" ]"));
                }
            }
            Some(ipfs) => {
                if let Some(from) = w.ipfs_nodes.get(ipfs) {
                    body.push(format!("{to} -> {from}"));
                }
            }
        }
    }
    body.push(String::new());
    body.push("/* The swarm peer connections among ipfs daemons in the cluster */".into());
    for (k, v) in &ipfs_edges {
        let Some(to) = w.ipfs_nodes.get(k) else {
            continue;
        };
        for id in v {
            if let Some(from) = w.ipfs_nodes.get(id) {
                body.push(format!("{to} -> {from}"));
            }
        }
    }
    let mut s = String::from("digraph cluster {\n");
    for line in body {
        s.push_str(&line);
        s.push('\n');
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    // Peer IDs and expected output of Go's graph_test.go (TestSimpleIpfsGraphs).
    const PID1: &str = "QmUBuxVHoNNjfmNpTad36UeaFQv3gXAtCv9r6KhmeqhEhD";
    const PID2: &str = "QmV35LjbEGPfN7KfMAJp43VV2enwXqqQf5esx4vUcgHDQJ";
    const PID3: &str = "QmZ2ckU7G35MYyJgMTwMUnicsGqSy3YUxGBX7qny6MQmJu";
    const PID4: &str = "QmXbiVZd93SLiu9TAm21F2y9JwGiFLydbEVkPBaMR3DZDV";
    const PID5: &str = "QmPFKAGZbUjdzt8BBx8VTWCe9UeUQVcoqHFehSPzN5LSsq";
    const PID6: &str = "QmbU7273zH6jxwDe2nqRmEm2rp5PpqP2xeQr2xCmwbBsuL";
    const PID7: &str = "QmQsdAdCHs4PRLi5tcoLfasYppryqQENxgAy4b2aS8xccb";

    fn links(v: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        v.iter()
            .map(|(k, l)| (k.to_string(), l.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    fn simple() -> ConnectGraph {
        ConnectGraph {
            cluster_id: PID1.into(),
            cluster_links: links(&[
                (PID1, &[PID2, PID3]),
                (PID2, &[PID1, PID3]),
                (PID3, &[PID1, PID2]),
            ]),
            ipfs_links: links(&[
                (PID4, &[PID5, PID6]),
                (PID5, &[PID4, PID6]),
                (PID6, &[PID4, PID5, PID7]),
            ]),
            cluster_to_ipfs: [(PID1, PID4), (PID2, PID5), (PID3, PID6)]
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    const SIMPLE: &str = r#"digraph cluster {
/* The nodes of the connectivity graph */
/* The cluster-service peers */
subgraph  {
rank="min"
C0 [label=< <B>  </B> <BR/> <B> Qm*eqhEhD </B> > group="QmUBuxVHoNNjfmNpTad36UeaFQv3gXAtCv9r6KhmeqhEhD" color="orange" style="filled" colorscheme="x11" fontcolor="black" fontname="Arial" shape="box3d" peripheries="2" ]
C1 [label=< <B>  </B> <BR/> <B> Qm*cgHDQJ </B> > group="QmV35LjbEGPfN7KfMAJp43VV2enwXqqQf5esx4vUcgHDQJ" color="darkorange3" style="filled" colorscheme="x11" fontcolor="black" fontname="Arial" shape="box3d" ]
C2 [label=< <B>  </B> <BR/> <B> Qm*6MQmJu </B> > group="QmZ2ckU7G35MYyJgMTwMUnicsGqSy3YUxGBX7qny6MQmJu" color="darkorange3" style="filled" colorscheme="x11" fontcolor="black" fontname="Arial" shape="box3d" ]
}

/* The ipfs peers */
subgraph  {
rank="max"
I0 [label=< <B> IPFS </B> <BR/> <B> Qm*N5LSsq </B> > group="QmPFKAGZbUjdzt8BBx8VTWCe9UeUQVcoqHFehSPzN5LSsq" color="turquoise3" style="filled" colorscheme="x11" fontcolor="black" fontname="Arial" shape="cylinder" ]
I1 [label=< <B> IPFS </B> <BR/> <B> Qm*R3DZDV </B> > group="QmXbiVZd93SLiu9TAm21F2y9JwGiFLydbEVkPBaMR3DZDV" color="turquoise3" style="filled" colorscheme="x11" fontcolor="black" fontname="Arial" shape="cylinder" ]
I2 [label=< <B> IPFS </B> <BR/> <B> Qm*wbBsuL </B> > group="QmbU7273zH6jxwDe2nqRmEm2rp5PpqP2xeQr2xCmwbBsuL" color="turquoise3" style="filled" colorscheme="x11" fontcolor="black" fontname="Arial" shape="cylinder" ]
}

/* Edges representing active connections in the cluster */
/* The connections among cluster-service peers */
C0 -> C1
C0 -> C2
C1 -> C0
C1 -> C2
C2 -> C0
C2 -> C1

/* The connections between cluster peers and their ipfs daemons */
C0 -> I1
C1 -> I0
C2 -> I2

/* The swarm peer connections among ipfs daemons in the cluster */
I0 -> I1
I0 -> I2
I1 -> I0
I1 -> I2
I2 -> I1
I2 -> I0
}"#;

    #[test]
    fn simple_graph_matches_go_test_vector() {
        // Go's vector lists I2's links as [pid4, pid5]; ours adds an outside peer (PID7),
        // which must not show without --all-ipfs-peers.
        assert_eq!(make_dot(&simple(), false), SIMPLE);
    }

    #[test]
    fn all_ipfs_peers_and_missing_ipfs() {
        let mut g = simple();
        let out = make_dot(&g, true);
        assert!(
            out.contains(&format!(
                "I1 [label=< <B> IPFS </B> <BR/> <B> Qm*S8xccb </B> > group=\"{PID7}\""
            )),
            "{out}"
        );
        assert!(out.contains("I3 -> I2\nI3 -> I0\nI3 -> I1\n"), "{out}");
        g.cluster_to_ipfs.remove(PID2);
        g.cluster_trust_links.insert(PID3.into(), true);
        g.id_to_peername.insert(PID1.into(), "me".into());
        let out = make_dot(&g, false);
        assert!(
            out.contains("C0 [label=< <B> me </B> <BR/> <B> Qm*eqhEhD </B> >"),
            "{out}"
        );
        assert!(
            out.contains("T2 [label=< <B>  </B> <BR/> <B> Qm*6MQmJu </B> >"),
            "{out}"
        );
        assert!(
            out.contains(&format!("I3 [label=< <B> IPFS </B> <BR/> <B> Errored </B> > group=\"{PID2}\" color=\"firebrick1\"")),
            "{out}"
        );
        assert!(out.contains("C1 -> I3 [ style=\"dotted\" ]\n"), "{out}");
        assert!(out.ends_with("}") && !out.ends_with("}\n"));
    }
}
