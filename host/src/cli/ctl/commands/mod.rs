//! One file per command group of `pinfold-ctl`, each an `impl Ctl` block with the command's
//! methods: `peers` (`id`, `version`, `peers`), `pin`, `add`, `status` (`status`, `recover`),
//! `health`, `ipfs`, and `wait` (the `--wait` polling `pin` and `add` share). The dispatch from
//! the parsed command line to these methods stays in the parent module. The two parsers pin
//! and add share (`--metadata`, `--expire-in`) live here.

mod add;
mod health;
mod ipfs;
mod peers;
mod pin;
mod status;
mod wait;

#[cfg(test)]
pub(crate) use add::progress_line;

use crate::types::Timestamp;

/// Go's `parseMetadata`: `key=value` pairs.
pub(super) fn parse_metadata(
    v: &[String],
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut m = std::collections::BTreeMap::new();
    for s in v {
        let Some((k, val)) = s.split_once('=') else {
            return Err("metadata were not in the format key=value".into());
        };
        m.insert(k.to_string(), val.to_string());
    }
    Ok(m)
}

/// `--expire-in` (a Go duration) as the time it ends, or the zero time when empty.
pub(super) fn expire_at(expire_in: &str) -> Result<Timestamp, String> {
    if expire_in.is_empty() {
        return Ok(Timestamp::ZERO);
    }
    let d = crate::gocompat::duration::parse(expire_in)
        .map_err(|_| format!("time: invalid duration {expire_in:?}"))?;
    Ok(Timestamp::now().plus(d))
}
