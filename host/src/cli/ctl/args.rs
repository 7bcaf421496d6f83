//! Command line of `pinfold-ctl`: the commands, flags, aliases and defaults of
//! `ipfs-cluster-ctl` v1.1.6 (`cmd/ipfs-cluster-ctl/main.go`, urfave/cli v1), with its help texts.
//!
//! urfave/cli v1 parses with Go's `flag` package, which clap does not: one or two dashes work
//! for any flag (`-rmin 2`, `--rmin 2`, `-name=x`), boolean flags take `=true|false`, a flag
//! that takes a value takes the next argument whatever it looks like (`--rmin -1`,
//! `--name --x`), and `h` is an alias of `help`. [`normalize`] rewrites such arguments into clap's
//! spelling before parsing, using the command tree itself to know which flags exist and which
//! take values; anything it does not recognise is left for clap to reject. Global flags go
//! before the command, as in Go (`ctl --enc json id`); flags of a command may follow its
//! arguments (urfave reorders them too).
//!
//! Help is clap's layout with Go's texts; every line fits in 120 columns (checked by a test).

use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::client::DEFAULT_API_ADDR;
use crate::gocompat::strconv;

/// The `Description` of Go's app.
pub const DESCRIPTION: &str = "\
%PROG% is a tool to manage IPFS Cluster nodes.

Use \"%PROG% help\" to list all available commands and
\"%PROG% help <command>\" to get usage information for a
specific one.

%PROG% uses the IPFS Cluster API to perform requests and
display responses in a user-readable format. The location of the IPFS
Cluster server is assumed to be /ip4/127.0.0.1/tcp/9094, but can be configured
with the --host option. If several multiaddresses are specified
(comma-separated), requests will be sent to the first one and fail-over
over to the others. This also works for dns-based addresses which resolve
to multiple values.

To use the secure libp2p-http API endpoint, use \"--host\" with
the full cluster libp2p listener address, including the \"/p2p/<peerID>\"
part, or a /dnsaddr that resolves to it. Provide the cluster secret with
--secret as needed.

For feedback, bug reports or any additional information, visit
https://github.com/ipfs-cluster/ipfs-cluster.";

const WAIT_DESC: &str = "Wait for the pin to reach the minimum replication factor before returning";
const WAIT_LIMIT_DESC: &str = "How many peers should reach the desired status to finish waiting";
const WAIT_TIMEOUT_DESC: &str = "How long to --wait (in seconds). Default: forever";

/// An integer flag: Go's `strconv.ParseInt(s, 0, 64)`, with urfave's error.
pub fn parse_go_int(s: &str) -> Result<i64, String> {
    strconv::parse_int(s, 64).ok_or_else(|| format!("invalid value {s:?}: parse error"))
}

/// A Go duration flag (`30s`, `1m30s`).
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    crate::gocompat::duration::parse(s).map_err(|_| format!("invalid value {s:?}: parse error"))
}

/// The whole command line.
#[derive(Debug, Parser)]
#[command(
    name = "pinfold-ctl",
    about = "CLI for IPFS Cluster",
    disable_version_flag = true,
    disable_help_subcommand = false,
    subcommand_value_name = "command"
)]
pub struct Cli {
    /// API endpoint multiaddresses (comma-separated)
    #[arg(short = 'l', long = "host", default_value = DEFAULT_API_ADDR, allow_hyphen_values = true)]
    pub host: String,
    /// cluster secret (32 byte pnet-key) as needed. Only when using the LibP2P endpoint
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub secret: String,
    /// use https to connect to the API
    #[arg(short = 's', long)]
    pub https: bool,
    /// do not verify server TLS certificate. only valid with --https flag
    #[arg(long = "no-check-certificate")]
    pub no_check_certificate: bool,
    /// output format encoding [text, json]
    #[arg(
        long = "encoding",
        visible_alias = "enc",
        default_value = "text",
        allow_hyphen_values = true
    )]
    pub encoding: String,
    /// number of seconds to wait before timing out a request
    #[arg(short = 't', long, default_value = "0", value_parser = parse_go_int, allow_hyphen_values = true)]
    pub timeout: i64,
    /// set debug log level
    #[arg(short = 'd', long)]
    pub debug: bool,
    #[arg(
        long = "basic-auth",
        env = "CLUSTER_CREDENTIALS",
        hide_env_values = true,
        allow_hyphen_values = true,
        help = "<username>[:<password>] specify BasicAuth credentials for server that\n\
                  requires authorization. implies --https, which you can disable with --force-http"
    )]
    pub basic_auth: Option<String>,
    /// force HTTP. only valid when using BasicAuth
    #[arg(short = 'f', long = "force-http")]
    pub force_http: bool,
    /// print the version
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Retrieve peer information
    #[command(long_about = "Retrieve peer information\n\n\
This command displays information about the peer that the tool is contacting
(usually running in localhost).")]
    Id,
    /// List and manage IPFS Cluster peers
    Peers {
        #[command(subcommand)]
        command: Option<PeersCommand>,
    },
    /// Add a file or directory to ipfs and pin it in the cluster
    #[command(long_about = ADD_DESC)]
    Add(AddArgs),
    /// Pin and unpin and list items in IPFS Cluster
    Pin {
        #[command(subcommand)]
        command: Option<PinCommand>,
    },
    /// Retrieve the status of tracked items
    #[command(long_about = STATUS_DESC)]
    Status(StatusArgs),
    /// Recover tracked items in error state
    #[command(long_about = RECOVER_DESC)]
    Recover(RecoverArgs),
    /// Retrieve cluster version
    #[command(long_about = "Retrieve cluster version\n\n\
This command retrieves the IPFS Cluster version and can be used
to check that it matches the CLI version (shown by -v).")]
    Version,
    /// Cluster monitoring information
    Health {
        #[command(subcommand)]
        command: Option<HealthCommand>,
    },
    /// Manage IPFS daemon
    Ipfs {
        #[command(subcommand)]
        command: Option<IpfsCommand>,
    },
    /// List all commands
    #[command(hide = true)]
    Commands,
}

#[derive(Debug, Subcommand)]
pub enum PeersCommand {
    /// list the nodes participating in the IPFS Cluster
    #[command(long_about = "list the nodes participating in the IPFS Cluster\n\n\
This command provides a list of the ID information of all the peers in the Cluster.")]
    Ls,
    /// remove a peer from the Cluster
    #[command(long_about = "remove a peer from the Cluster\n\n\
This command removes a peer from the cluster. If the peer is online, it will
automatically shut down. All other cluster peers should be online for the
operation to succeed, otherwise some nodes may be left with an outdated list of
cluster peers.")]
    Rm {
        /// The peer ID to remove
        #[arg(value_name = "peer ID")]
        args: Vec<String>,
    },
}

const ADD_DESC: &str = "Add a file or directory to ipfs and pin it in the cluster

Add allows to add and replicate content to several ipfs daemons, performing
a Cluster Pin operation on success. It takes elements from local paths as
well as from web URLs (accessed with a GET request). Providing several
arguments will automatically set --wrap-in-directory.

Cluster \"add\" works, by default, just like \"ipfs add\" and has similar options
in terms of DAG layout, chunker, hash function etc. It also supports adding
CAR files directly (--format car), as long as they have a single root. When
adding CAR files, all the options related to dag-building are ignored.

Added content will be allocated and sent block by block to the peers that
should pin it (among which may not necessarily be the local ipfs daemon).
Once all the blocks have arrived, they will be \"cluster-pinned\". This makes
cluster add slower than a local ipfs add, but the result is a fully replicated
on completion. If you prefer faster adding, use the --local flag to add
directly to the local IPFS node and pin in the destinations after that.
Note that the local IPFS node may not be among the destinations, which will
leave the unpinned content in it.

Optional replication-min and replication-max factors can be provided: -1 means
\"pin everywhere\" and 0 means use cluster's default setting (i.e., replication
factor set in config). Positive values indicate how many peers should pin this
content.";

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Paths or URLs to add
    #[arg(value_name = "path")]
    pub paths: Vec<String>,
    /// Add directory paths recursively
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// Write only hashes to output (one per line)
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Write only final hash to output
    #[arg(short = 'Q', long)]
    pub quieter: bool,
    /// Buffer output locally. Produces a valid JSON array with --enc=json.
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Add to local peer but pin normally
    #[arg(long)]
    pub local: bool,
    /// Sets a name for this pin
    #[arg(short = 'n', long, default_value = "", allow_hyphen_values = true)]
    pub name: String,
    /// Sets the minimum replication factor for pinning this file
    #[arg(long = "replication-min", visible_alias = "rmin", default_value = "0",
          value_parser = parse_go_int, allow_hyphen_values = true)]
    pub replication_min: i64,
    /// Sets the maximum replication factor for pinning this file
    #[arg(long = "replication-max", visible_alias = "rmax", default_value = "0",
          value_parser = parse_go_int, allow_hyphen_values = true)]
    pub replication_max: i64,
    /// Duration after which the pin should be unpinned automatically
    #[arg(long = "expire-in", default_value = "", allow_hyphen_values = true)]
    pub expire_in: String,
    /// Pin metadata: key=value. Can be added multiple times
    #[arg(long, allow_hyphen_values = true)]
    pub metadata: Vec<String>,
    /// Optional comma-separated list of peer IDs
    #[arg(
        long,
        visible_alias = "allocs",
        default_value = "",
        allow_hyphen_values = true
    )]
    pub allocations: String,
    /// Do not pin after adding
    #[arg(long = "no-pin")]
    pub no_pin: bool,
    /// Wait for the pin to reach the minimum replication factor before returning
    #[arg(long, help = WAIT_DESC)]
    pub wait: bool,
    /// How long to --wait (in seconds). Default: forever
    #[arg(long = "wait-timeout", visible_alias = "wt", default_value = "0s",
          value_parser = parse_go_duration, help = WAIT_TIMEOUT_DESC, allow_hyphen_values = true)]
    pub wait_timeout: Duration,
    /// Wrap a with a directory object
    #[arg(short = 'w', long = "wrap-with-directory")]
    pub wrap_with_directory: bool,
    /// 'unixfs' (add as unixfs DAG), 'car' (import CAR file)
    #[arg(long, default_value = "unixfs", allow_hyphen_values = true)]
    pub format: String,
    /// Dag layout to use for dag generation: balanced or trickle
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub layout: String,
    /// Include files that are hidden.  Only takes effect on recursive add
    #[arg(short = 'H', long)]
    pub hidden: bool,
    /// 'size-<size>' or 'rabin-<min>-<avg>-<max>'
    #[arg(
        short = 's',
        long,
        default_value = "size-262144",
        allow_hyphen_values = true
    )]
    pub chunker: String,
    /// Use raw blocks for leaves (experimental)
    #[arg(long = "raw-leaves")]
    pub raw_leaves: bool,
    /// CID version. Non default implies raw-leaves
    #[arg(long = "cid-version", default_value = "0", value_parser = parse_go_int, allow_hyphen_values = true)]
    pub cid_version: i64,
    /// Hash function to use. Implies cid-version=1
    #[arg(long, default_value = "sha2-256", allow_hyphen_values = true)]
    pub hash: String,
    /// Add the URL using filestore. Implies raw-leaves. (experimental)
    #[arg(long)]
    pub nocopy: bool,
}

/// The `--no-status`/`--wait*` flags of `pin add|rm|update`.
#[derive(Debug, Args)]
pub struct PinWaitArgs {
    /// Prevents fetching pin status after the operation (faster, quieter)
    #[arg(long = "no-status", visible_alias = "ns")]
    pub no_status: bool,
    /// Wait for the pin to reach the minimum replication factor before returning
    #[arg(short = 'w', long, help = WAIT_DESC)]
    pub wait: bool,
    /// How many peers should reach the desired status to finish waiting
    #[arg(long = "wait-limit", visible_alias = "wl", value_parser = parse_go_int,
          help = WAIT_LIMIT_DESC, allow_hyphen_values = true)]
    pub wait_limit: Option<i64>,
    /// How long to --wait (in seconds). Default: forever
    #[arg(long = "wait-timeout", visible_alias = "wt", default_value = "0s",
          value_parser = parse_go_duration, help = WAIT_TIMEOUT_DESC, allow_hyphen_values = true)]
    pub wait_timeout: Duration,
}

#[derive(Debug, Subcommand)]
pub enum PinCommand {
    /// Pin an item in the cluster
    #[command(long_about = PIN_ADD_DESC)]
    Add(PinAddArgs),
    /// Unpin an item from the cluster
    #[command(long_about = "Unpin an item from the cluster

This command tells IPFS Cluster to no longer manage a CID. This will
trigger unpinning operations in all the IPFS nodes holding the content.

When the request has succeeded, the command returns the status of the CID
in the cluster. The CID should disappear from the list offered by \"pin ls\",
although unpinning operations in the cluster may take longer or fail.")]
    Rm {
        #[arg(value_name = "CID|Path")]
        args: Vec<String>,
        #[command(flatten)]
        wait: PinWaitArgs,
    },
    /// Pin a new item based on an existing one
    #[command(long_about = PIN_UPDATE_DESC)]
    Update(PinUpdateArgs),
    /// List items in the cluster pinset
    #[command(long_about = PIN_LS_DESC)]
    Ls {
        #[arg(value_name = "CID")]
        args: Vec<String>,
        /// Comma separated list of pin types. See help above.
        #[arg(long, default_value = "all", allow_hyphen_values = true)]
        filter: String,
    },
}

const PIN_ADD_DESC: &str = "Pin an item in the cluster

This command tells IPFS Cluster to start managing a CID. Depending on
the pinning strategy, this will trigger IPFS pin requests. The CID will
become part of the Cluster's state and will tracked from this point.

When the request has succeeded, the command returns the status of the CID
in the cluster and should be part of the list offered by \"pin ls\".

An optional replication factor can be provided: -1 means \"pin everywhere\"
and 0 means use cluster's default setting (i.e., replication factor set in
config). Positive values indicate how many peers should pin this content.

An optional allocations argument can be provided, allocations should be a
comma-separated list of peer IDs on which we want to pin. Peers in allocations
are prioritized over automatically-determined ones, but replication factors
would still be respected.";

#[derive(Debug, Args)]
pub struct PinAddArgs {
    #[arg(value_name = "CID|Path")]
    pub args: Vec<String>,
    /// Sets a custom replication factor (overrides -rmax and -rmin)
    #[arg(short = 'r', long, default_value = "0", value_parser = parse_go_int, allow_hyphen_values = true)]
    pub replication: i64,
    /// Sets the minimum replication factor for this pin
    #[arg(long = "replication-min", visible_alias = "rmin", default_value = "0",
          value_parser = parse_go_int, allow_hyphen_values = true)]
    pub replication_min: i64,
    /// Sets the maximum replication factor for this pin
    #[arg(long = "replication-max", visible_alias = "rmax", default_value = "0",
          value_parser = parse_go_int, allow_hyphen_values = true)]
    pub replication_max: i64,
    /// Optional comma-separated list of peer IDs
    #[arg(
        long,
        visible_alias = "allocs",
        default_value = "",
        allow_hyphen_values = true
    )]
    pub allocations: String,
    /// Sets a name for this pin
    #[arg(short = 'n', long, default_value = "", allow_hyphen_values = true)]
    pub name: String,
    /// Select a way to pin: recursive or direct
    #[arg(long, default_value = "recursive", allow_hyphen_values = true)]
    pub mode: String,
    /// Duration after which pin should be unpinned automatically
    #[arg(long = "expire-in", default_value = "", allow_hyphen_values = true)]
    pub expire_in: String,
    /// Pin metadata: key=value. Can be added multiple times
    #[arg(long, allow_hyphen_values = true)]
    pub metadata: Vec<String>,
    #[command(flatten)]
    pub wait: PinWaitArgs,
}

const PIN_UPDATE_DESC: &str = "Pin a new item based on an existing one

This command will add a new pin to the cluster taking all the options from an
existing one, including name. This means that the new pin will bypass the
allocation process and will be allocated to the same peers as the existing
one.

The cluster peers will try to Pin the new item on IPFS using the \"pin update\"
command. This is especially efficient when the content of two pins (their DAGs)
are similar.

Unlike the \"pin update\" command in the ipfs daemon, this will not unpin the
existing item from the cluster. Please run \"pin rm\" for that.";

#[derive(Debug, Args)]
pub struct PinUpdateArgs {
    #[arg(value_name = "existing-CID> <new-CID|Path")]
    pub args: Vec<String>,
    /// Sets a name for this updated pin
    #[arg(short = 'n', long, default_value = "", allow_hyphen_values = true)]
    pub name: String,
    /// Duration after which the pin should be unpinned automatically after updating
    #[arg(long = "expire-in", default_value = "", allow_hyphen_values = true)]
    pub expire_in: String,
    #[command(flatten)]
    pub wait: PinWaitArgs,
}

const PIN_LS_DESC: &str = "List items in the cluster pinset

This command will list the CIDs which are tracked by IPFS Cluster and to
which peers they are currently allocated. This list does not include
any monitoring information about the IPFS status of the CIDs, it
merely represents the list of pins which are part of the shared state of
the cluster. For IPFS-status information about the pins, use \"status\".

The filter only takes effect when listing all pins. The possible values are:
  - all (default)
  - pin (normal pins, recursive or direct)
  - meta-pin (sharded pins)
  - clusterdag-pin (sharding-dag root pins)
  - shard-pin (individual shard pins)";

const STATUS_DESC: &str = "Retrieve the status of tracked items

This command retrieves the status of the CIDs tracked by IPFS
Cluster, including which member is pinning them and any errors.
If one of several CIDs are provided, the status will be only fetched
for a single item.  Metadata CIDs are included in the status response.

When the --local flag is passed, it will only fetch the status from the
contacted cluster peer. By default, status will be fetched from all peers.

When the --filter flag is passed, it will only fetch the peer information
where status of the pin matches at least one of the filter values (a comma
separated list). The following are valid status values:

  - cluster_error
  - error
  - pin_error
  - pin_queued
  - pinned
  - pinning
  - queued
  - remote
  - sharded
  - unexpectedly_unpinned
  - unpin_error
  - unpin_queued
  - unpinned
  - unpinning";

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(value_name = "CID")]
    pub cids: Vec<String>,
    /// run operation only on the contacted peer
    #[arg(long)]
    pub local: bool,
    /// comma-separated list of filters
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub filter: String,
}

const RECOVER_DESC: &str = "Recover tracked items in error state

This command asks Cluster peers to re-track or re-forget CIDs in
error state, usually because the IPFS pin or unpin operation has failed.

The command will wait for any operations to succeed and will return the status
of the item upon completion. Note that, when running on the full sets of tracked
CIDs (without argument), it may take a considerably long time.

When the --local flag is passed, it will only trigger recover
operations on the contacted peer (as opposed to on every peer).";

#[derive(Debug, Args)]
pub struct RecoverArgs {
    #[arg(value_name = "CID")]
    pub args: Vec<String>,
    /// run operation only on the contacted peer
    #[arg(long)]
    pub local: bool,
}

#[derive(Debug, Subcommand)]
pub enum HealthCommand {
    /// create a graph displaying connectivity of cluster peers
    #[command(long_about = "create a graph displaying connectivity of cluster peers

This command queries all connected cluster peers and their ipfs peers to generate a
graph of the connections.  Output is a dot file encoding the cluster's connection state.")]
    Graph {
        /// sets an output dot-file for the connectivity graph
        #[arg(short = 'f', long, default_value = "", allow_hyphen_values = true)]
        file: String,
        /// causes the graph to mark nodes for ipfs peers not directly in the cluster
        #[arg(long = "all-ipfs-peers")]
        all_ipfs_peers: bool,
    },
    /// List latest metrics logged by this peer
    #[command(long_about = "List latest metrics logged by this peer

This commands displays the latest valid metrics of the given type logged
by this peer for all current cluster peers.

If no argument is provided, the command retrieves all currently existing metric types.

Currently supported metrics depend on the informer component used,
but usually are:

- freespace
- ping")]
    Metrics {
        #[arg(value_name = "metric name")]
        args: Vec<String>,
    },
    /// List the latest expired metric alerts
    #[command(long_about = "List the latest expired metric alerts

This command provides a list of \"alerts\" that the cluster has seen.

An alert is triggered when one of the metrics seen for a peer expires, and no
new metrics have been received.

Different alerts may be handled in different ways. i.e. ping alerts may
trigger automatic repinnings if configured.")]
    Alerts,
    /// Lists bandwidth stats for libp2p protocols
    #[command(long_about = "Lists bandwidth stats for libp2p protocols

This command lists information about bytes sent, received and current bandwidth
rates for each libp2p protocol that the peer uses.")]
    Bandwidth,
}

#[derive(Debug, Subcommand)]
pub enum IpfsCommand {
    /// run garbage collection on IPFS repos of cluster peers
    #[command(long_about = "run garbage collection on IPFS repos of cluster peers

This command will instruct current Cluster peers to run \"repo gc\" on their
respective IPFS daemons.

When --local flag is passed, it will garbage collect only on the local IPFS
daemon, otherwise on all IPFS daemons.")]
    Gc {
        /// run operation only on the contacted peer
        #[arg(long)]
        local: bool,
    },
}

/// The clap command, named after the program (`argv[0]`'s file name, as urfave does).
pub fn command(prog: &str) -> clap::Command {
    let prog = prog.to_string();
    Cli::command().bin_name(prog.clone()).long_about(format!(
        "CLI for IPFS Cluster\n\n{}",
        DESCRIPTION.replace("%PROG%", &prog)
    ))
}

/// Rewrites Go `flag`-style arguments into clap's (see the module docs). `args[0]` is the
/// program name.
pub fn normalize(root: &clap::Command, args: &[String]) -> Vec<String> {
    let mut root = root.clone();
    root.build();
    let mut out = Vec::with_capacity(args.len());
    let mut cmd = &root;
    let mut iter = args.iter();
    if let Some(a0) = iter.next() {
        out.push(a0.clone());
    }
    let mut expect_value = false;
    while let Some(a) = iter.next() {
        if expect_value {
            out.push(a.clone());
            expect_value = false;
            continue;
        }
        if a == "--" {
            out.push(a.clone());
            out.extend(iter.by_ref().cloned());
            break;
        }
        let flag = a
            .strip_prefix("--")
            .or_else(|| a.strip_prefix('-'))
            .filter(|b| !b.is_empty() && !b.starts_with('-'));
        if let Some(body) = flag {
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let found = cmd.get_arguments().find(|arg| {
                arg.get_long() == Some(name)
                    || arg.get_all_aliases().is_some_and(|al| al.contains(&name))
                    || (name.chars().count() == 1 && arg.get_short() == name.chars().next())
            });
            let Some(arg) = found else {
                out.push(a.clone());
                continue;
            };
            let long = arg.get_long().unwrap_or(name).to_string();
            if arg.get_action().takes_values() {
                match value {
                    Some(v) => out.push(format!("--{long}={v}")),
                    None => {
                        out.push(format!("--{long}"));
                        expect_value = true;
                    }
                }
            } else {
                match value.map(strconv::parse_bool) {
                    None => out.push(format!("--{long}")),
                    Some(Some(true)) => out.push(format!("--{long}")),
                    Some(Some(false)) => {}
                    Some(None) => out.push(a.clone()),
                }
            }
            continue;
        }
        if let Some(sc) = cmd.find_subcommand(a) {
            cmd = sc;
            out.push(a.clone());
        } else if a == "h" && cmd.has_subcommands() {
            out.push("help".into());
            cmd = cmd.find_subcommand("help").unwrap_or(cmd);
        } else {
            out.push(a.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::FromArgMatches;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let c = command("ipfs-cluster-ctl");
        let args: Vec<String> = std::iter::once("ipfs-cluster-ctl")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        let norm = normalize(&c, &args);
        let m = c.try_get_matches_from(norm)?;
        Cli::from_arg_matches(&m)
    }

    #[test]
    fn globals_and_defaults() {
        let c = parse(&["id"]).unwrap();
        assert_eq!(c.host, "/ip4/127.0.0.1/tcp/9094");
        assert_eq!(c.encoding, "text");
        assert_eq!(c.timeout, 0);
        assert!(!c.https && !c.force_http && !c.debug);
        let c = parse(&[
            "-l",
            "/ip4/1.2.3.4/tcp/1",
            "-s",
            "--enc",
            "json",
            "-t",
            "5",
            "-d",
            "-f",
            "id",
        ])
        .unwrap();
        assert_eq!(c.host, "/ip4/1.2.3.4/tcp/1");
        assert!(c.https && c.debug && c.force_http);
        assert_eq!((c.encoding.as_str(), c.timeout), ("json", 5));
        let c = parse(&[
            "-host",
            "/dns/x/tcp/1",
            "-encoding=json",
            "-timeout=0x10",
            "version",
        ])
        .unwrap();
        assert_eq!(
            (c.host.as_str(), c.encoding.as_str(), c.timeout),
            ("/dns/x/tcp/1", "json", 16)
        );
        assert!(matches!(c.command, Some(Command::Version)));
        let c = parse(&[
            "--basic-auth",
            "u:p",
            "--https=false",
            "--no-check-certificate",
            "-v",
        ])
        .unwrap();
        assert_eq!(c.basic_auth.as_deref(), Some("u:p"));
        assert!(!c.https && c.no_check_certificate && c.version);
        // global flags belong before the command, as in Go
        assert!(parse(&["id", "--enc", "json"]).is_err());
    }

    #[test]
    fn pin_add_flags_and_aliases() {
        let c = parse(&[
            "pin",
            "add",
            "--rmin",
            "-1",
            "-rmax=-1",
            "--allocs",
            "a,b",
            "-n",
            "--x",
            "--mode",
            "direct",
            "--metadata",
            "a=b",
            "-metadata",
            "c=d",
            "--ns",
            "-w",
            "--wl",
            "2",
            "--wt",
            "1m",
            "QmX",
            "--expire-in",
            "1h",
        ])
        .unwrap();
        let Some(Command::Pin {
            command: Some(PinCommand::Add(a)),
        }) = c.command
        else {
            panic!("not pin add")
        };
        assert_eq!(
            (a.replication_min, a.replication_max, a.replication),
            (-1, -1, 0)
        );
        assert_eq!(a.allocations, "a,b");
        assert_eq!(a.name, "--x");
        assert_eq!(a.mode, "direct");
        assert_eq!(a.metadata, vec!["a=b", "c=d"]);
        assert_eq!(a.args, vec!["QmX"]);
        assert_eq!(a.expire_in, "1h");
        assert!(a.wait.no_status && a.wait.wait);
        assert_eq!(a.wait.wait_limit, Some(2));
        assert_eq!(a.wait.wait_timeout, Duration::from_secs(60));
        let c = parse(&["pin", "add", "-r", "3", "--wait=false", "QmX"]).unwrap();
        let Some(Command::Pin {
            command: Some(PinCommand::Add(a)),
        }) = c.command
        else {
            panic!()
        };
        assert_eq!(a.replication, 3);
        assert!(!a.wait.wait && a.wait.wait_limit.is_none());
        assert!(
            parse(&["pin", "add", "--wt", "30", "QmX"]).is_err(),
            "Go durations need a unit"
        );
        assert!(parse(&["pin", "add", "--rmin", "x", "QmX"]).is_err());
    }

    #[test]
    fn add_flags() {
        let c = parse(&[
            "add",
            "-r",
            "-q",
            "-Q",
            "--no-stream",
            "--local",
            "-n",
            "nm",
            "--rmin",
            "2",
            "--rmax",
            "3",
            "-w",
            "-H",
            "-s",
            "size-1000",
            "--raw-leaves",
            "--cid-version",
            "1",
            "--hash",
            "blake2b-256",
            "--wait",
            "--wt",
            "10s",
            "--format",
            "car",
            "--layout",
            "trickle",
            "--no-pin",
            "--allocs",
            "p",
            "a",
            "b",
        ])
        .unwrap();
        let Some(Command::Add(a)) = c.command else {
            panic!()
        };
        assert!(
            a.recursive && a.quiet && a.quieter && a.no_stream && a.local && a.wrap_with_directory
        );
        assert!(a.hidden && a.raw_leaves && a.wait && a.no_pin && !a.nocopy);
        assert_eq!(
            (a.name.as_str(), a.replication_min, a.replication_max),
            ("nm", 2, 3)
        );
        assert_eq!(
            (a.chunker.as_str(), a.cid_version, a.hash.as_str()),
            ("size-1000", 1, "blake2b-256")
        );
        assert_eq!(
            (a.format.as_str(), a.layout.as_str(), a.allocations.as_str()),
            ("car", "trickle", "p")
        );
        assert_eq!(a.wait_timeout, Duration::from_secs(10));
        assert_eq!(a.paths, vec!["a", "b"]);
        let c = parse(&["add", "f"]).unwrap();
        let Some(Command::Add(a)) = c.command else {
            panic!()
        };
        assert_eq!(
            (a.chunker.as_str(), a.hash.as_str(), a.format.as_str()),
            ("size-262144", "sha2-256", "unixfs")
        );
    }

    #[test]
    fn other_commands() {
        assert!(matches!(
            parse(&["peers", "ls"]).unwrap().command,
            Some(Command::Peers {
                command: Some(PeersCommand::Ls)
            })
        ));
        assert!(matches!(
            parse(&["peers"]).unwrap().command,
            Some(Command::Peers { command: None })
        ));
        let c = parse(&["status", "--local", "--filter", "pinned,error", "a", "b"]).unwrap();
        let Some(Command::Status(s)) = c.command else {
            panic!()
        };
        assert!(s.local);
        assert_eq!((s.filter.as_str(), s.cids.len()), ("pinned,error", 2));
        let c = parse(&["health", "graph", "-f", "out.dot", "--all-ipfs-peers"]).unwrap();
        assert!(matches!(
            c.command,
            Some(Command::Health { command: Some(HealthCommand::Graph { ref file, all_ipfs_peers: true }) }) if file == "out.dot"
        ));
        assert!(matches!(
            parse(&["ipfs", "gc", "--local"]).unwrap().command,
            Some(Command::Ipfs {
                command: Some(IpfsCommand::Gc { local: true })
            })
        ));
        assert!(matches!(
            parse(&["pin", "ls", "--filter", "shard-pin"])
                .unwrap()
                .command,
            Some(Command::Pin {
                command: Some(PinCommand::Ls { .. })
            })
        ));
        assert!(matches!(
            parse(&["commands"]).unwrap().command,
            Some(Command::Commands)
        ));
        assert!(parse(&["nosuchcommand"]).is_err());
    }

    #[test]
    fn go_ints() {
        assert_eq!(parse_go_int("10"), Ok(10));
        assert_eq!(parse_go_int("-1"), Ok(-1));
        assert_eq!(parse_go_int("0x1f"), Ok(31));
        assert_eq!(parse_go_int("010"), Ok(8));
        assert_eq!(parse_go_int("0b11"), Ok(3));
        assert_eq!(parse_go_int("1_000"), Ok(1000));
        assert_eq!(
            parse_go_int("1__0"),
            Err("invalid value \"1__0\": parse error".into())
        );
        assert_eq!(parse_go_int("0x1_0"), Ok(16));
        assert!(parse_go_int("").is_err() && parse_go_int("1.5").is_err());
    }

    #[test]
    fn help_fits_120_columns() {
        fn walk(c: &mut clap::Command, path: &str) {
            let help = c.render_long_help().to_string();
            for line in help.lines() {
                assert!(line.chars().count() <= 120, "{path}: {line:?}");
            }
            let names: Vec<String> = c
                .get_subcommands()
                .map(|s| s.get_name().to_string())
                .collect();
            for n in names {
                let sc = c.find_subcommand_mut(&n).unwrap();
                walk(sc, &format!("{path} {n}"));
            }
        }
        let mut c = command("ipfs-cluster-ctl");
        c.build();
        walk(&mut c, "ipfs-cluster-ctl");
    }
}
