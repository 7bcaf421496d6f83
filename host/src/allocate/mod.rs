//! Allocation: which peers store a pin (IPFS Cluster's `allocate()`, §7.2 of the reference).
//!
//! This module owns the *counting* rules, which never change: keep valid current
//! allocations, need `min − |current|` more peers and want at most `max − |current|`, put the
//! user's priority peers first, and fail with Go's exact message when there are not enough
//! candidates. The *ordering* of candidates is the allocator's policy: it is a parameter
//! ([`Ranking`]), so the balanced allocator (and later the WASM allocator plugin) plugs in
//! without touching the rules. Replication -1 ("everywhere") stores no allocations at all.

use libp2p_identity::PeerId;

/// Why allocation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocateError {
    #[error("bad replication factors")]
    BadReplication,
    #[error(
        "not enough peers to allocate CID. Needed at least: {needed}. Wanted at most: {wanted}. Available candidates: {available}. See logs for more info."
    )]
    NotEnoughPeers {
        needed: i32,
        wanted: i32,
        available: usize,
    },
}

/// Orders candidate peers, best first (the allocator's policy).
pub type Ranking<'a> = &'a dyn Fn(&[PeerId]) -> Vec<PeerId>;

/// The allocations for a pin with replication `min..=max`, given the peers currently
/// allocated (`current`, already filtered to valid peers), the user's priority peers, and
/// the other candidates. Returns an empty list for "everywhere".
pub fn allocate(
    min: i32,
    max: i32,
    current: &[PeerId],
    priority: &[PeerId],
    candidates: &[PeerId],
    rank: Ranking<'_>,
) -> Result<Vec<PeerId>, AllocateError> {
    if min == 0 && max == 0 {
        return Err(AllocateError::BadReplication);
    }
    if min < 0 && max < 0 {
        return Ok(Vec::new());
    }
    let have = current.len() as i32;
    let needed = min - have;
    let wanted = max - have;
    if wanted < 0 {
        // fewer wanted than we have: keep the first ones
        return Ok(current[..(current.len() as i32 + wanted).max(0) as usize].to_vec());
    }
    if needed <= 0 {
        return Ok(current.to_vec());
    }
    let fresh = |p: &PeerId| !current.contains(p);
    let prio: Vec<PeerId> = priority.iter().copied().filter(|p| fresh(p)).collect();
    let others: Vec<PeerId> = candidates
        .iter()
        .copied()
        .filter(|p| fresh(p) && !prio.contains(p))
        .collect();
    let available = prio.len() + others.len();
    if (available as i32) < needed {
        return Err(AllocateError::NotEnoughPeers {
            needed: min,
            wanted: max,
            available,
        });
    }
    let mut ordered = rank(&prio);
    ordered.extend(rank(&others));
    let mut out = current.to_vec();
    out.extend(ordered.into_iter().take(wanted as usize));
    Ok(out)
}

/// The ranking that keeps the given order.
pub fn as_given(peers: &[PeerId]) -> Vec<PeerId> {
    peers.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(n: usize) -> Vec<PeerId> {
        (0..n).map(|_| PeerId::random()).collect()
    }

    #[test]
    fn counting_rules() {
        let p = peers(4);
        assert_eq!(
            allocate(-1, -1, &[], &[], &p, &as_given).unwrap(),
            Vec::<PeerId>::new()
        );
        assert_eq!(
            allocate(0, 0, &[], &[], &p, &as_given),
            Err(AllocateError::BadReplication)
        );
        let a = allocate(2, 3, &[], &[p[3]], &p, &as_given).unwrap();
        assert_eq!(
            a,
            vec![p[3], p[0], p[1]],
            "priority first, then candidates, up to max"
        );
        let kept = allocate(1, 2, &[p[2]], &[], &p, &as_given).unwrap();
        assert_eq!(
            kept,
            vec![p[2]],
            "enough current allocations are kept as they are"
        );
        let fewer = allocate(1, 1, &[p[0], p[1]], &[], &p, &as_given).unwrap();
        assert_eq!(fewer, vec![p[0]]);
        let err = allocate(5, 6, &[], &[], &p, &as_given).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not enough peers to allocate CID. Needed at least: 5. Wanted at most: 6. Available candidates: 4. See logs for more info."
        );
    }
}
