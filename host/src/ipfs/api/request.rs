//! Parsing a Kubo RPC request line (`POST /api/v0/<command>[/<arg>]?<query>`) into a
//! command name, arguments and options, with Kubo's conversion rules and error messages.
//!
//! # What this module owns
//!
//! [`RpcRequest`] is what every `/api/v0` handler starts from. It decides which command a
//! URI names, collects positional arguments, and converts option values. It does this the
//! way go-ipfs-cmds' `http/parse.go` does, and it reports failures with Kubo's messages as
//! plain-text 400s (see [`super::error`]). Go durations (`timeout=`) are parsed by
//! [`crate::gocompat::duration`], which the configuration shares.
//!
//! # Kubo behaviour reproduced (verified in go-ipfs-cmds v0.16 / Kubo 867cdc5)
//!
//! * **Command resolution.** The path after `/api/v0` is percent-decoded *first* and then
//!   split on `/` (Go's `URL.Path` is already decoded), after one leading `/` is removed.
//!   Every segment but the last must name a command (namespace). The last segment is a
//!   sub-command if one exists, and **otherwise the one and only path argument**. So
//!   `pin/add/<cid>` works, `pin/add/a/b` is a 404, and `refs/local` is the command, not
//!   `refs` with an argument. With the flat [`COMMANDS`] table this is "longest match, at
//!   most one trailing argument". A trailing slash (`version/`) yields one empty argument,
//!   as in Kubo.
//! * **Arguments.** The path argument comes first, then every `arg=` query value in order.
//!   A missing required one is `argument "<name>" is required` ([`RpcRequest::arg`]).
//! * **Query string.** Go's `url.ParseQuery` rules apply. Pairs are split on `&`. A pair
//!   holding `;` is dropped (Go ≥ 1.17). `+` means space. A pair with a bad `%` escape is
//!   dropped. `key` without `=` has the value `""`. Unknown options are kept but never read,
//!   so they are effectively ignored (clients send extras such as `stream=true` to `pin/add`).
//! * **Option values.** go-ipfs-cmds `option.go` converters:
//!   * bool: an empty value means `true`. Otherwise the value is lower-cased and then
//!     `strconv.ParseBool` accepts `1 t true 0 f false`. So `TRUE`, `True`, `T` and even
//!     `tRuE` are accepted.
//!   * int/int64/uint/uint64: `strconv.Parse{Int,Uint}(v, 0, bits)`, i.e. base prefixes
//!     `0x`, `0o`, `0b`, a leading `0` means **octal**, and `_` separators are allowed.
//!     `int`/`uint` are 32-bit.
//!   * Anything unparsable gives 400 `could not convert value "x" to type "bool" (for option
//!     "-recursive")`. The option is named by its canonical (first) name, even when the
//!     client used an alias.
//!   * A single-valued option given more than once under the same key gives 400 `expected key
//!     <name> to have only a single value, received [a b]`.
//! * **Aliases.** Kubo options have short names (`r` = `recursive`, `q` = `quiet`, `t` =
//!   `type` on `pin/ls`, `n` = `name`, `s` = `stream`/`chunker`, `enc` = `encoding`, …). The
//!   accessors take a list of names, canonical first. Over HTTP, Kubo maps an alias to the
//!   canonical key. If both are given, the winner is random (Go map order). Pinfold picks the
//!   first name in the list that is present, so the canonical name wins deterministically.
//!   Kubo names use hyphens (`cid-version`). `cid_version` is *not* an alias in Kubo and is
//!   not one here.
//!
//! # Deliberate deviations (all stricter or more deterministic, none looser)
//!
//! * `timeout` is a plain string option in go-ipfs-cmds. The handler parses it with
//!   `time.ParseDuration`, and **on failure returns without writing anything: an empty
//!   `200 OK`**. Pinfold answers 400 with Go's parse error (`time: invalid duration "abc"`).
//!   A negative timeout means "already expired" in Kubo, so [`RpcRequest::timeout`] maps it
//!   to `Duration::ZERO`. Callers must treat `Some(ZERO)` as *expired*, not as "no timeout".
//! * A namespace without a command (`/api/v0/pin`) gets an empty `200 OK` from Kubo (a nil
//!   error in `Command.call`). Pinfold answers 404.
//! * Go keeps non-UTF-8 bytes in paths and queries. Pinfold answers 400 for a non-UTF-8 path
//!   or `arg` (CIDs, paths and multiaddrs are UTF-8). Option keys and values are converted
//!   lossily (U+FFFD), so an unknown option with odd bytes cannot fail a request.
//! * Go's `ServeMux` 301-redirects unclean paths (`//`, `/./`). Pinfold does not clean them,
//!   so such paths are 404s.
//! * Arguments that Kubo reads from the request body for `EnableStdin` arguments (the Go CLI
//!   sends piped stdin as a multipart file) are not handled here. The handler that needs
//!   them reads them from the body.

use std::time::Duration;

use axum::http::Uri;

use super::error::ApiError;
use crate::gocompat::duration::{self, DurationErrorKind};
use crate::gocompat::strconv;
use crate::http::unescape::unescape;

/// The mount point of the Kubo RPC API.
pub const API_PREFIX: &str = "/api/v0";

/// Every command path the Pinfold RPC server implements. A URI path is matched against it
/// (longest match, at most one trailing path argument).
pub const COMMANDS: &[&str] = &[
    "id",
    "version",
    "add",
    "cat",
    "block/put",
    "block/get",
    "block/stat",
    "block/rm",
    "pin/add",
    "pin/rm",
    "pin/ls",
    "pin/update",
    "repo/stat",
    "repo/gc",
    "resolve",
    "refs",
    "refs/local",
    "dag/put",
    "dag/get",
    "dag/export",
    "dag/import",
    "swarm/peers",
    "swarm/connect",
    "config/show",
];

/// Whether `command` (e.g. `"pin/add"`) is in [`COMMANDS`].
pub fn is_known_command(command: &str) -> bool {
    COMMANDS.contains(&command)
}

/// A list of option names: the canonical name first, then its aliases. Implemented for
/// `&str` (a single name), slices and arrays of `&str`.
pub trait OptionNames {
    /// The names, canonical first.
    fn option_names(&self) -> &[&str];
}

impl OptionNames for &str {
    fn option_names(&self) -> &[&str] {
        std::slice::from_ref(self)
    }
}

impl OptionNames for &[&str] {
    fn option_names(&self) -> &[&str] {
        self
    }
}

impl<const N: usize> OptionNames for [&str; N] {
    fn option_names(&self) -> &[&str] {
        self.as_slice()
    }
}

impl<const N: usize> OptionNames for &[&str; N] {
    fn option_names(&self) -> &[&str] {
        self.as_slice()
    }
}

/// A parsed Kubo RPC request: command, positional arguments, raw options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcRequest {
    /// The command path, one of [`COMMANDS`], e.g. `"pin/add"`.
    pub command: String,
    /// Positional arguments: the path argument (if any) first, then each `arg=` in order.
    pub args: Vec<String>,
    /// Every non-`arg` query pair, decoded, in request order.
    options: Vec<(String, String)>,
}

impl RpcRequest {
    /// Parse a full request URI. Its path must start with `/api/v0/`, otherwise 404.
    pub fn from_uri(uri: &Uri) -> Result<Self, ApiError> {
        Self::from_path_and_query_parts(uri.path(), uri.query())
    }

    /// Parse a request target such as `/api/v0/pin/add?arg=Qm…` (the fuzzing entry point).
    pub fn from_path_and_query(target: &str) -> Result<Self, ApiError> {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        Self::from_path_and_query_parts(path, query)
    }

    fn from_path_and_query_parts(path: &str, query: Option<&str>) -> Result<Self, ApiError> {
        match path.strip_prefix(API_PREFIX) {
            Some(rest) if rest.starts_with('/') => Self::parse(rest, query),
            _ => Err(ApiError::not_found()),
        }
    }

    /// Parse a path relative to the API root (`/pin/add/Qm…` or `pin/add/Qm…`, as a router
    /// nested under `/api/v0` sees it) and the raw query string (without `?`).
    pub fn parse(api_path: &str, query: Option<&str>) -> Result<Self, ApiError> {
        let decoded =
            unescape(api_path, false).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| ApiError::bad_request("invalid UTF-8 in request path"))?;
        let rel = decoded.strip_prefix('/').unwrap_or(&decoded);
        let (command, path_arg) = split_command(rel).ok_or_else(ApiError::not_found)?;

        let mut args = Vec::new();
        if let Some(a) = path_arg {
            args.push(a.to_owned());
        }
        let mut options = Vec::new();
        for (k, v) in parse_query(query.unwrap_or(""))? {
            if k == "arg" {
                args.push(v);
            } else {
                options.push((k, v));
            }
        }
        Ok(RpcRequest {
            command: command.to_owned(),
            args,
            options,
        })
    }

    /// Every non-`arg` query pair, decoded, in request order.
    pub fn options(&self) -> &[(String, String)] {
        &self.options
    }

    /// The `i`-th positional argument, or Kubo's 400 `argument "<name>" is required`.
    pub fn arg(&self, i: usize, name: &str) -> Result<&str, ApiError> {
        self.args
            .get(i)
            .map(String::as_str)
            .ok_or_else(|| ApiError::missing_argument(name))
    }

    /// All positional arguments of a required variadic argument (e.g. `pin/add`'s
    /// `ipfs-path`). If there are none, the result is Kubo's `argument "<name>" is required`.
    pub fn args_required(&self, name: &str) -> Result<&[String], ApiError> {
        if self.args.is_empty() {
            Err(ApiError::missing_argument(name))
        } else {
            Ok(&self.args)
        }
    }

    /// The raw value of a single-valued option, looked up under each of `names` in order.
    /// If one key is repeated, the result is Kubo's "only a single value" 400.
    fn single(&self, names: &[&str]) -> Result<Option<&str>, ApiError> {
        let canonical = names.first().copied().unwrap_or("");
        for name in names {
            let values: Vec<&str> = self
                .options
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .collect();
            match values.as_slice() {
                [] => continue,
                [one] => return Ok(Some(one)),
                many => return Err(ApiError::option_repeated(canonical, many)),
            }
        }
        Ok(None)
    }

    /// Every value given for a multi-valued (`StringsOption`) option, under any of `names`,
    /// in request order.
    pub fn strings(&self, names: impl OptionNames) -> Vec<&str> {
        let names = names.option_names();
        self.options
            .iter()
            .filter(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A string option (`StringOption`): `None` when absent.
    pub fn string(&self, names: impl OptionNames) -> Result<Option<&str>, ApiError> {
        self.single(names.option_names())
    }

    /// A boolean option, with go-ipfs-cmds' conversion: empty means `true`, otherwise
    /// case-insensitive `1 t true 0 f false`. Anything else gives 400.
    pub fn bool(&self, names: impl OptionNames, default: bool) -> Result<bool, ApiError> {
        let names = names.option_names();
        match self.single(names)? {
            None => Ok(default),
            Some(v) => parse_cmds_bool(v).ok_or_else(|| {
                ApiError::invalid_option_value(names.first().copied().unwrap_or(""), "bool", v)
            }),
        }
    }

    /// [`RpcRequest::bool`] with an explicit alias list (canonical name first).
    pub fn bool_any(&self, names: &[&str], default: bool) -> Result<bool, ApiError> {
        self.bool(names, default)
    }

    fn converted<T>(
        &self,
        names: &[&str],
        ty: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, ApiError> {
        match self.single(names)? {
            None => Ok(None),
            Some(v) => parse(v).map(Some).ok_or_else(|| {
                ApiError::invalid_option_value(names.first().copied().unwrap_or(""), ty, v)
            }),
        }
    }

    /// An `IntOption` (Go `int`, parsed as `ParseInt(v, 0, 32)`), e.g. `cid-version`.
    pub fn int(&self, names: impl OptionNames) -> Result<Option<i32>, ApiError> {
        self.converted(names.option_names(), "int", |v| {
            strconv::parse_int(v, 32).and_then(|n| i32::try_from(n).ok())
        })
    }

    /// An `Int64Option` (`ParseInt(v, 0, 64)`), e.g. `cat`'s `offset`.
    pub fn int64(&self, names: impl OptionNames) -> Result<Option<i64>, ApiError> {
        self.converted(names.option_names(), "int64", |v| strconv::parse_int(v, 64))
    }

    /// A `UintOption` (Go `uint`, parsed as `ParseUint(v, 0, 32)`), e.g. `add`'s `mode`.
    pub fn uint(&self, names: impl OptionNames) -> Result<Option<u32>, ApiError> {
        self.converted(names.option_names(), "uint", |v| {
            strconv::parse_uint(v, 32).and_then(|n| u32::try_from(n).ok())
        })
    }

    /// A `Uint64Option` (`ParseUint(v, 0, 64)`).
    pub fn uint64(&self, names: impl OptionNames) -> Result<Option<u64>, ApiError> {
        self.converted(names.option_names(), "uint64", |v| {
            strconv::parse_uint(v, 64)
        })
    }

    /// The global `timeout` option as a duration.
    ///
    /// Absent gives `None`. Malformed gives 400 with Go's `time.ParseDuration` message.
    /// Negative values and `0` give `Some(Duration::ZERO)`, which means "already expired"
    /// (Kubo's `context.WithTimeout` with a non-positive duration).
    /// When block fetches for this request must give up: after the global `timeout` option,
    /// or at once (local blocks only) with Kubo's global `offline` option; `None` = no limit.
    pub fn deadline(&self) -> Result<Option<tokio::time::Instant>, ApiError> {
        if self.bool("offline", false)? {
            return Ok(Some(tokio::time::Instant::now()));
        }
        Ok(self.timeout()?.map(|d| tokio::time::Instant::now() + d))
    }

    pub fn timeout(&self) -> Result<Option<Duration>, ApiError> {
        match self.single(&["timeout"])? {
            None => Ok(None),
            Some(v) => match duration::parse(v) {
                Ok(d) => Ok(Some(d)),
                Err(e) if e.kind == DurationErrorKind::Negative => Ok(Some(Duration::ZERO)),
                Err(e) => Err(ApiError::bad_request(e.to_string())),
            },
        }
    }
}

/// Split a decoded, relative API path into (command, optional single path argument) using
/// [`COMMANDS`], the way go-ipfs-cmds resolves its command tree.
pub fn split_command(rel: &str) -> Option<(&'static str, Option<&str>)> {
    let find = |p: &str| COMMANDS.iter().copied().find(|c| *c == p);
    if let Some(c) = find(rel) {
        return Some((c, None));
    }
    let (parent, last) = rel.rsplit_once('/')?;
    find(parent).map(|c| (c, Some(last)))
}

/// go-ipfs-cmds' bool converter: `""` is `true`, otherwise `strconv.ParseBool(lower(v))`
/// (so `TrUe` is accepted here, though not by Go's `strconv.ParseBool` alone).
fn parse_cmds_bool(v: &str) -> Option<bool> {
    if v.is_empty() {
        return Some(true);
    }
    strconv::parse_bool(&v.to_lowercase())
}

/// Go's `url.ParseQuery`, keeping order: pairs containing `;` or a bad escape are dropped.
/// An `arg` value that is not UTF-8 gives a 400. Other keys and values are converted lossily
/// (U+FFFD), so an unknown option with odd bytes cannot fail a request.
pub fn parse_query(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for pair in query.split('&') {
        if pair.is_empty() || pair.contains(';') {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (Ok(k), Ok(v)) = (unescape(k, true), unescape(v, true)) else {
            continue;
        };
        let k = String::from_utf8_lossy(&k).into_owned();
        let v = match String::from_utf8(v) {
            Ok(v) => v,
            Err(_) if k == "arg" => {
                return Err(ApiError::bad_request("invalid UTF-8 in argument"));
            }
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        out.push((k, v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::error::{ErrorCode, ErrorFormat};
    use super::*;
    use axum::http::StatusCode;

    fn req(target: &str) -> RpcRequest {
        RpcRequest::from_path_and_query(target).unwrap_or_else(|e| panic!("{target}: {e:?}"))
    }

    fn assert_text_400(e: &ApiError, msg: &str) {
        assert_eq!(e.status, StatusCode::BAD_REQUEST, "{e:?}");
        assert_eq!(e.format, ErrorFormat::Text, "{e:?}");
        assert_eq!(e.code, ErrorCode::Client);
        assert_eq!(e.message, msg);
    }

    #[test]
    fn command_resolution() {
        let r = req("/api/v0/version");
        assert_eq!(r.command, "version");
        assert!(r.args.is_empty());
        let r = req("/api/v0/refs/local");
        assert_eq!((r.command.as_str(), r.args.len()), ("refs/local", 0));
        let r = req("/api/v0/refs/QmFoo");
        assert_eq!(
            (r.command.as_str(), r.args.clone()),
            ("refs", vec!["QmFoo".to_owned()])
        );
        let r = req("/api/v0/config/show");
        assert_eq!(r.command, "config/show");
        // trailing slash: one empty path argument, as in Kubo
        let r = req("/api/v0/version/");
        assert_eq!(
            (r.command.as_str(), r.args.clone()),
            ("version", vec![String::new()])
        );
        for c in COMMANDS {
            assert_eq!(req(&format!("/api/v0/{c}")).command, *c);
        }
    }

    #[test]
    fn unknown_commands_are_404() {
        for t in [
            "/api/v0/",
            "/api/v0",
            "/api/v0/nope",
            "/api/v0/pin",
            "/api/v0/pin/nope/x",
            "/api/v0/pin/add/a/b",
            "/api/v0//version",
            "/api/v0x/version",
            "/version",
            "/api/v1/version",
            "",
        ] {
            let e = RpcRequest::from_path_and_query(t).unwrap_err();
            assert_eq!(e.status, StatusCode::NOT_FOUND, "{t}");
            assert_eq!(e.message, "404 page not found");
            assert_eq!(e.format, ErrorFormat::Text);
        }
        assert!(split_command("pin/verify").is_none());
        assert!(is_known_command("dag/import"));
        assert!(!is_known_command("dag"));
    }

    #[test]
    fn path_form_argument() {
        let r =
            req("/api/v0/pin/add/QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o?recursive=false");
        assert_eq!(r.command, "pin/add");
        assert_eq!(
            r.args,
            vec!["QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"]
        );
        assert!(!r.bool(["recursive", "r"], true).unwrap());
        // path argument first, then query args
        let r = req("/api/v0/pin/rm/QmA?arg=QmB&arg=QmC");
        assert_eq!(r.args, vec!["QmA", "QmB", "QmC"]);
        // the path is decoded before splitting (Go's URL.Path): %2F splits
        assert!(RpcRequest::from_path_and_query("/api/v0/pin/add/%2Fipfs%2FQm").is_err());
        // percent-encoded path segments are decoded
        assert_eq!(req("/api/v0/pin/add/Qm%41").args, vec!["QmA"]);
        assert_eq!(req("/api/v0/pin%2Fadd").command, "pin/add");
        // relative parse, as inside a router nested under /api/v0
        let r = RpcRequest::parse("/block/get/bafk", Some("arg=x")).unwrap();
        assert_eq!(
            (r.command.as_str(), r.args.clone()),
            ("block/get", vec!["bafk".into(), "x".into()])
        );
        let r = RpcRequest::parse("block/stat", None).unwrap();
        assert_eq!(r.command, "block/stat");
    }

    #[test]
    fn repeated_and_encoded_args() {
        let r = req("/api/v0/pin/update?unpin=false&arg=QmFrom&arg=QmTo");
        assert_eq!(r.args, vec!["QmFrom", "QmTo"]);
        assert_eq!(r.arg(0, "from-path").unwrap(), "QmFrom");
        assert_eq!(r.arg(1, "to-path").unwrap(), "QmTo");
        assert!(!r.bool("unpin", true).unwrap());

        let r = req("/api/v0/swarm/connect?arg=%2Fip4%2F127.0.0.1%2Ftcp%2F4001%2Fp2p%2F12D3KooWA");
        assert_eq!(r.args, vec!["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWA"]);
        // unencoded slashes in a query value are fine too
        let r = req("/api/v0/swarm/connect?arg=/ip4/1.2.3.4/tcp/1");
        assert_eq!(r.args, vec!["/ip4/1.2.3.4/tcp/1"]);
        // '+' is a space in a query, a literal '+' must be %2B
        let r = req("/api/v0/resolve?arg=a+b&arg=a%2Bb");
        assert_eq!(r.args, vec!["a b", "a+b"]);
        // Go drops pairs with ';' or bad escapes, and empty pairs
        let r = req("/api/v0/cat?arg=x;y&arg=%zz&&arg=ok&arg");
        assert_eq!(r.args, vec!["ok", ""]);
        // a client that duplicates the path as paths= and arg= (kubo-rpc-client pin ls)
        let r = req("/api/v0/pin/ls?paths=Qm1&type=recursive&names=false&stream=true&arg=Qm1");
        assert_eq!(r.args, vec!["Qm1"]);
        assert_eq!(r.string(["type", "t"]).unwrap(), Some("recursive"));
        assert_eq!(r.options().len(), 4);
    }

    #[test]
    fn missing_argument_message() {
        let r = req("/api/v0/pin/update?arg=QmFrom");
        assert_text_400(
            &r.arg(1, "to-path").unwrap_err(),
            "argument \"to-path\" is required",
        );
        let r = req("/api/v0/pin/add");
        assert_text_400(
            &r.args_required("ipfs-path").unwrap_err(),
            "argument \"ipfs-path\" is required",
        );
        let r = req("/api/v0/pin/add?arg=a&arg=b");
        assert_eq!(r.args_required("ipfs-path").unwrap().len(), 2);
    }

    #[test]
    fn every_accepted_bool_spelling() {
        let truthy = ["", "1", "t", "T", "true", "TRUE", "True", "tRuE"];
        let falsy = ["0", "f", "F", "false", "FALSE", "False", "fAlSe"];
        for v in truthy {
            let r = req(&format!("/api/v0/pin/add?recursive={v}"));
            assert!(r.bool("recursive", false).unwrap(), "{v:?}");
        }
        for v in falsy {
            let r = req(&format!("/api/v0/pin/add?recursive={v}"));
            assert!(!r.bool("recursive", true).unwrap(), "{v:?}");
        }
        // a bare key is true
        assert!(
            req("/api/v0/add?quiet")
                .bool(["quiet", "q"], false)
                .unwrap()
        );
        // default when absent
        assert!(req("/api/v0/pin/add").bool("recursive", true).unwrap());
        assert!(!req("/api/v0/pin/add").bool("recursive", false).unwrap());
    }

    #[test]
    fn bad_bool_is_kubo_400() {
        for v in ["yes", "no", "2", "on", "truee", "%20true"] {
            let r = req(&format!("/api/v0/pin/add?r={v}"));
            let e = r.bool(["recursive", "r"], true).unwrap_err();
            let shown = unescape(v, true).unwrap();
            let shown = String::from_utf8(shown).unwrap();
            assert_text_400(
                &e,
                &format!(
                    "could not convert value \"{shown}\" to type \"bool\" (for option \"-recursive\")"
                ),
            );
        }
    }

    #[test]
    fn aliases_and_repeats() {
        let r = req("/api/v0/pin/add?r=false");
        assert!(!r.bool_any(&["recursive", "r"], true).unwrap());
        // canonical wins over alias deterministically
        let r = req("/api/v0/pin/add?r=false&recursive=true");
        assert!(r.bool(["recursive", "r"], false).unwrap());
        // the same key twice is Kubo's error
        let r = req("/api/v0/pin/add?recursive=true&recursive=false");
        assert_text_400(
            &r.bool("recursive", true).unwrap_err(),
            "expected key recursive to have only a single value, received [true false]",
        );
        assert!(r.string("recursive").is_err());
        // strings options gather everything
        let r = req("/api/v0/add?ignore=a&ignore=b");
        assert_eq!(r.strings("ignore"), vec!["a", "b"]);
        // unknown options are ignored
        let r = req("/api/v0/pin/add?stream=true&bogus=%FF%FE");
        assert_eq!(r.string("name").unwrap(), None);
        // hyphenated names only: cid_version is not cid-version
        let r = req("/api/v0/add?cid_version=1");
        assert_eq!(r.int("cid-version").unwrap(), None);
    }

    #[test]
    fn invalid_utf8_query_is_400() {
        let e = RpcRequest::from_path_and_query("/api/v0/cat?arg=%FF").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = RpcRequest::from_path_and_query("/api/v0/pin/add/%FF").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = RpcRequest::from_path_and_query("/api/v0/pin/add/%G1").unwrap_err();
        assert_text_400(&e, "invalid URL escape \"%G1\"");
    }

    #[test]
    fn go_integers() {
        let r = req(
            "/api/v0/add?cid-version=1&inline-limit=0x20&mode=0644&mtime=-5&max-file-links=1_000",
        );
        assert_eq!(r.int("cid-version").unwrap(), Some(1));
        assert_eq!(r.int("inline-limit").unwrap(), Some(32));
        assert_eq!(r.uint("mode").unwrap(), Some(0o644));
        assert_eq!(r.int64("mtime").unwrap(), Some(-5));
        assert_eq!(r.int("max-file-links").unwrap(), Some(1000));

        let r = req("/api/v0/add?cid-version=one&mode=-1&offset=");
        assert_text_400(
            &r.int("cid-version").unwrap_err(),
            "could not convert value \"one\" to type \"int\" (for option \"-cid-version\")",
        );
        assert_text_400(
            &r.uint("mode").unwrap_err(),
            "could not convert value \"-1\" to type \"uint\" (for option \"-mode\")",
        );
        assert_text_400(
            &r.int64(["offset", "o"]).unwrap_err(),
            "could not convert empty value to type \"int64\" (for option \"-offset\")",
        );
        assert!(
            req("/api/v0/add?x=18446744073709551616")
                .uint64("x")
                .is_err()
        );
    }

    #[test]
    fn timeout_option() {
        assert_eq!(req("/api/v0/id").timeout().unwrap(), None);
        assert_eq!(
            req("/api/v0/id?timeout=10s").timeout().unwrap(),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            req("/api/v0/id?timeout=1m30s").timeout().unwrap(),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            req("/api/v0/id?timeout=500ms").timeout().unwrap(),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            req("/api/v0/id?timeout=-1s").timeout().unwrap(),
            Some(Duration::ZERO)
        );
        assert_eq!(
            req("/api/v0/id?timeout=0").timeout().unwrap(),
            Some(Duration::ZERO)
        );
        assert_text_400(
            &req("/api/v0/id?timeout=abc").timeout().unwrap_err(),
            "time: invalid duration \"abc\"",
        );
        assert_text_400(
            &req("/api/v0/id?timeout=10").timeout().unwrap_err(),
            "time: missing unit in duration \"10\"",
        );
        assert_text_400(
            &req("/api/v0/id?timeout=1d").timeout().unwrap_err(),
            "time: unknown unit \"d\" in duration \"1d\"",
        );
        assert_text_400(
            &req("/api/v0/id?timeout=").timeout().unwrap_err(),
            "time: invalid duration \"\"",
        );
    }
}
