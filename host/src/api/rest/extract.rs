//! Request extraction for the REST handlers: query parameters, path parameters, CIDs and pin
//! paths, the `/add` parameters, and the multipart checks; a failure is a [`BadRequest`],
//! worded as IPFS Cluster words its 400s.
//!
//! Request parsing follows Go: `local` is on only for the exact value `true`; query values are
//! read first-wins (`url.Values.Get`); a `{hash}` that is not a CID gives 400 `error decoding
//! Cid: <err>`; bad pin options give 400 with the option's error, on every `{hash}` route (Go
//! parses them everywhere too). `/add`: `shard=true` and `nocopy=true` are refused (no
//! sharding, no filestore); `recursive` and `hidden` are client-side options, checked and
//! ignored.

use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::HeaderMap;
use cid::Cid;

use crate::cluster::{AddParams, PinTypeSet};
use crate::gocompat::{path, strconv};
use crate::http::goerror::go_quote;
use crate::http::multipart::parse_media_type;
use crate::http::ndjson::{StreamOptions, accepts_trailers};
use crate::types::{PinOptions, Timestamp};

/// A request the handlers answer with 400 and this message (IPFS Cluster's wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadRequest(String);

impl From<String> for BadRequest {
    fn from(message: String) -> BadRequest {
        BadRequest(message)
    }
}

impl From<&str> for BadRequest {
    fn from(message: &str) -> BadRequest {
        BadRequest(message.to_owned())
    }
}

pub(crate) type Params = Vec<(String, String)>;

pub(crate) fn params(q: &Option<String>) -> Params {
    form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// Go's `url.Values.Get`: the first value.
pub(crate) fn first<'a>(p: &'a Params, key: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

pub(crate) fn local(p: &Params) -> bool {
    first(p, "local") == Some("true")
}

pub(crate) fn stream_opts(headers: &HeaderMap) -> StreamOptions {
    StreamOptions {
        trailers: accepts_trailers(headers),
        ..Default::default()
    }
}

/// Go's `ParseCidOrFail`: the CID of `{hash}` and the pin options of the query; an error is
/// the message of a 400.
pub(crate) fn parse_hash(hash: &str, p: &Params) -> Result<(Cid, PinOptions), BadRequest> {
    let cid = Cid::try_from(hash).map_err(|e| format!("error decoding Cid: {e}"))?;
    let opts = PinOptions::from_query(p, Timestamp::now()).map_err(|e| e.to_string())?;
    Ok((cid, opts))
}

/// The `{hash}` of a route; an error is the message of a 400.
pub(crate) fn path_param(p: Result<Path<String>, PathRejection>) -> Result<String, BadRequest> {
    p.map(|Path(s)| s)
        .map_err(|e| format!("error decoding Cid: {}", e.body_text()).into())
}

/// Go's `ParsePinPathOrFail` with boxo's `path.NewPath`: `/<key>/<rest>` cleaned, its root a
/// CID for `ipfs`/`ipld`; an error is the message of a 400 (`error parsing path: invalid path
/// "…": …`, or the pin option's error).
pub(crate) fn parse_pin_path(
    key: &str,
    rest: &str,
    p: &Params,
) -> Result<(String, PinOptions), BadRequest> {
    let raw = format!("/{key}/{}", rest.strip_suffix('/').unwrap_or(rest));
    let invalid =
        |why: String| format!("error parsing path: invalid path {}: {why}", go_quote(&raw));
    let cleaned = path::clean(&raw);
    let segs: Vec<&str> = cleaned.split('/').filter(|s| !s.is_empty()).collect();
    if segs.len() < 2 {
        return Err(invalid("path does not have enough components".into()).into());
    }
    if key != "ipns" {
        Cid::try_from(segs[1]).map_err(|e| invalid(e.to_string()))?;
    }
    let opts = PinOptions::from_query(p, Timestamp::now()).map_err(|e| e.to_string())?;
    Ok((cleaned, opts))
}

/// Go's `parseBoolParam`: absent or empty → `None`; unparsable → `parameter <name> invalid`.
pub(crate) fn bool_param(p: &Params, name: &str) -> Result<Option<bool>, BadRequest> {
    match first(p, name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => strconv::parse_bool(v)
            .map(Some)
            .ok_or_else(|| format!("parameter {name} invalid").into()),
    }
}

/// Go's `AddParamsFromQuery` (same checks, same order, same messages); returns the parameters
/// and `stream-channels`.
pub(crate) fn add_params(p: &Params) -> Result<(AddParams, bool), BadRequest> {
    let mut pin_options = PinOptions::from_query(p, Timestamp::now()).map_err(|e| e.to_string())?;
    pin_options.pin_update = None;
    let layout_trickle = match first(p, "layout").unwrap_or("") {
        "trickle" => true,
        "balanced" | "" => false,
        _ => return Err("layout parameter is invalid".into()),
    };
    let nonempty = |k: &str| first(p, k).filter(|v| !v.is_empty()).map(String::from);
    let chunker = nonempty("chunker");
    let hash = nonempty("hash");
    let car = match first(p, "format").unwrap_or("") {
        "car" => true,
        "unixfs" | "" => false,
        _ => return Err("format parameter is invalid".into()),
    };
    let local = bool_param(p, "local")?.unwrap_or(false);
    bool_param(p, "recursive")?;
    bool_param(p, "hidden")?;
    let wrap_with_directory = bool_param(p, "wrap-with-directory")?.unwrap_or(false);
    let shard = bool_param(p, "shard")?.unwrap_or(false);
    let progress = bool_param(p, "progress")?.unwrap_or(false);
    let cid_version = match first(p, "cid-version").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(
            v.parse::<u32>()
                .map_err(|_| "parameter cid-version invalid".to_string())?,
        ),
    };
    let raw_leaves = bool_param(p, "raw-leaves")?;
    let stream_channels = bool_param(p, "stream-channels")?.unwrap_or(true);
    let nocopy = bool_param(p, "nocopy")?.unwrap_or(false);
    let no_pin = bool_param(p, "no-pin")?.unwrap_or(false);
    if shard {
        return Err("shard=true: sharded adds are not supported by Pinfold".into());
    }
    if nocopy {
        return Err("nocopy=true: filestore adds are not supported by Pinfold".into());
    }
    Ok((
        AddParams {
            pin_options,
            local,
            wrap_with_directory,
            progress,
            cid_version,
            raw_leaves,
            layout_trickle,
            chunker,
            hash,
            car,
            no_pin,
        },
        stream_channels,
    ))
}

/// `/allocations?filter=`: Go ORs the names; the filter is refused only when no name is known.
pub(crate) fn pin_type_filter(filter: &str) -> Option<PinTypeSet> {
    let mut set = PinTypeSet {
        data: false,
        meta: false,
        cluster_dag: false,
        shard: false,
    };
    let mut known = false;
    for f in filter.split(',') {
        match f {
            "" | "all" => set = PinTypeSet::ALL,
            "pin" => set.data = true,
            "meta-pin" => set.meta = true,
            "clusterdag-pin" => set.cluster_dag = true,
            "shard-pin" => set.shard = true,
            _ => continue,
        }
        known = true;
    }
    known.then_some(set)
}

const NOT_MULTIPART: &str = "request Content-Type isn't multipart/form-data";

/// Go's `Request.MultipartReader` checks, with its messages.
pub(crate) fn check_multipart(content_type: Option<&str>) -> Result<(), BadRequest> {
    let ct = content_type
        .filter(|c| !c.is_empty())
        .ok_or(NOT_MULTIPART)?;
    match parse_media_type(ct) {
        Ok((mt, params)) if mt == "multipart/form-data" => {
            if params.iter().any(|(k, _)| k == "boundary") {
                Ok(())
            } else {
                Err("no multipart boundary param in Content-Type".into())
            }
        }
        _ => Err(NOT_MULTIPART.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Params {
        params(&Some(s.to_string()))
    }

    #[test]
    fn allocation_filters_follow_go() {
        assert_eq!(pin_type_filter(""), Some(PinTypeSet::ALL));
        assert_eq!(pin_type_filter("all,xyz"), Some(PinTypeSet::ALL));
        let s = pin_type_filter("pin,xyz").unwrap();
        assert!(s.data && !s.meta && !s.shard && !s.cluster_dag);
        assert_eq!(pin_type_filter("xyz"), None);
        assert_eq!(pin_type_filter("xyz,abc"), None);
        let s = pin_type_filter("meta-pin,shard-pin").unwrap();
        assert!(s.meta && s.shard && !s.data);
    }

    #[test]
    fn add_params_follow_go() {
        let (p, sc) = add_params(&q("")).unwrap();
        assert!(sc && !p.local && !p.car && !p.layout_trickle && p.cid_version.is_none());
        assert_eq!(p.raw_leaves, None);
        let (p, sc) = add_params(&q(
            "stream-channels=false&layout=trickle&format=car&cid-version=1&raw-leaves=F&chunker=size-10&hash=blake2b-256&local=T&no-pin=1&wrap-with-directory=true&progress=true&name=x&pin-update=QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY",
        ))
        .unwrap();
        assert!(!sc && p.layout_trickle && p.car && p.local && p.no_pin);
        assert!(p.wrap_with_directory && p.progress);
        assert_eq!(p.cid_version, Some(1));
        assert_eq!(p.raw_leaves, Some(false));
        assert_eq!(p.chunker.as_deref(), Some("size-10"));
        assert_eq!(p.hash.as_deref(), Some("blake2b-256"));
        assert_eq!(p.pin_options.name, "x");
        assert_eq!(p.pin_options.pin_update, None);
        for (query, err) in [
            ("layout=zigzag", "layout parameter is invalid"),
            ("format=tar", "format parameter is invalid"),
            ("local=yes", "parameter local invalid"),
            ("cid-version=x", "parameter cid-version invalid"),
            ("recursive=maybe", "parameter recursive invalid"),
            ("replication-min=x", "parameter replication-min invalid"),
        ] {
            assert_eq!(
                add_params(&q(query)).unwrap_err().to_string(),
                err,
                "{query}"
            );
        }
        assert!(
            add_params(&q("shard=true"))
                .unwrap_err()
                .to_string()
                .contains("shard")
        );
        assert!(
            add_params(&q("nocopy=true"))
                .unwrap_err()
                .to_string()
                .contains("nocopy")
        );
    }

    #[test]
    fn paths() {
        let (p, _) = parse_pin_path(
            "ipfs",
            "QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY/a//b/",
            &vec![],
        )
        .unwrap();
        assert_eq!(
            p,
            "/ipfs/QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY/a/b"
        );
        assert!(parse_pin_path("ipfs", "invalidhash", &vec![]).is_err());
        assert!(parse_pin_path("ipns", "example.com/x", &vec![]).is_ok());
    }
}
