//! The two helpers of `github.com/dustin/go-humanize` v1.0.1 that `ipfs-cluster-ctl` prints
//! with: [`bytes`] (SI sizes: `"83 MB"`) and [`rel_time`] (`"3 minutes ago"`, `"12 seconds from
//! now"`), reproduced exactly, thresholds and rounding included, so metric and alert lines read
//! the same as Go's.
//!
//! One deliberate difference: Go computes the SI exponent with floating-point logarithms, which
//! can land one unit low at exact powers of 1000; the exponent here is found with integers.

/// SI size as `humanize.Bytes`: below 10 `"N B"`; else one decimal below 10 units, none above.
pub fn bytes(s: u64) -> String {
    const SIZES: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if s < 10 {
        return format!("{s} B");
    }
    let mut e = 0usize;
    let mut p = 1u64;
    while e + 1 < SIZES.len() && s / p >= 1000 {
        p *= 1000;
        e += 1;
    }
    let val = ((s as f64) / (p as f64) * 10.0 + 0.5).floor() / 10.0;
    if val < 10.0 {
        format!("{val:.1} {}", SIZES[e])
    } else {
        format!("{val:.0} {}", SIZES[e])
    }
}

const SECOND: i128 = 1_000_000_000;
const MINUTE: i128 = 60 * SECOND;
const HOUR: i128 = 60 * MINUTE;
const DAY: i128 = 24 * HOUR;
const WEEK: i128 = 7 * DAY;
const MONTH: i128 = 30 * DAY;
const YEAR: i128 = 12 * MONTH;
const LONG_TIME: i128 = 37 * YEAR;

/// `humanize.Time(then)` with `now` given: both in Unix nanoseconds.
pub fn rel_time(then_nanos: i128, now_nanos: i128) -> String {
    let (label, diff) = if then_nanos > now_nanos {
        ("from now", then_nanos - now_nanos)
    } else {
        ("ago", now_nanos - then_nanos)
    };
    // (threshold, format, divisor): the first threshold above the difference wins.
    let table: [(i128, &str, i128); 17] = [
        (SECOND, "now", SECOND),
        (2 * SECOND, "1 second %s", 1),
        (MINUTE, "%d seconds %s", SECOND),
        (2 * MINUTE, "1 minute %s", 1),
        (HOUR, "%d minutes %s", MINUTE),
        (2 * HOUR, "1 hour %s", 1),
        (DAY, "%d hours %s", HOUR),
        (2 * DAY, "1 day %s", 1),
        (WEEK, "%d days %s", DAY),
        (2 * WEEK, "1 week %s", 1),
        (MONTH, "%d weeks %s", WEEK),
        (2 * MONTH, "1 month %s", 1),
        (YEAR, "%d months %s", MONTH),
        (18 * MONTH, "1 year %s", 1),
        (2 * YEAR, "2 years %s", 1),
        (LONG_TIME, "%d years %s", YEAR),
        (i64::MAX as i128, "a long while %s", 1),
    ];
    let (_, fmt, div) = table
        .iter()
        .find(|(d, _, _)| *d > diff)
        .copied()
        .unwrap_or(table[table.len() - 1]);
    fmt.replace("%d", &(diff / div).to_string())
        .replace("%s", label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_like_go_humanize() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(9), "9 B");
        assert_eq!(bytes(10), "10 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1000), "1.0 kB");
        assert_eq!(bytes(82_854_982), "83 MB");
        assert_eq!(bytes(12_000_000_000), "12 GB");
        assert_eq!(bytes(9_940_000), "9.9 MB");
        assert_eq!(bytes(9_960_000), "10 MB");
        assert_eq!(bytes(1_500_000_000_000), "1.5 TB");
        assert_eq!(bytes(u64::MAX), "18 EB");
    }

    #[test]
    fn rel_time_like_go_humanize() {
        let now = 1_700_000_000 * SECOND;
        assert_eq!(rel_time(now, now), "now");
        assert_eq!(rel_time(now + SECOND, now), "1 second from now");
        assert_eq!(rel_time(now + 30 * SECOND + 5, now), "30 seconds from now");
        assert_eq!(rel_time(now - 90 * SECOND, now), "1 minute ago");
        assert_eq!(rel_time(now - 2 * MINUTE, now), "2 minutes ago");
        assert_eq!(rel_time(now - 5 * HOUR, now), "5 hours ago");
        assert_eq!(rel_time(now - 3 * DAY, now), "3 days ago");
        assert_eq!(rel_time(now - 10 * DAY, now), "1 week ago");
        assert_eq!(rel_time(now - 20 * DAY, now), "2 weeks ago");
        assert_eq!(rel_time(now - 40 * DAY, now), "1 month ago");
        assert_eq!(rel_time(now - 100 * DAY, now), "3 months ago");
        assert_eq!(rel_time(now - 400 * DAY, now), "1 year ago");
        assert_eq!(rel_time(now - 600 * DAY, now), "2 years ago");
        assert_eq!(rel_time(now - 5 * YEAR, now), "5 years ago");
        assert_eq!(rel_time(0, now), "a long while ago");
    }
}
