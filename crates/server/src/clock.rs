//! RFC 3339 timestamps in UTC without a date-time crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// `2026-06-02T16:53:08.261Z` for `t`.
pub fn rfc3339_millis(t: SystemTime) -> String {
    let (secs, millis) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_millis()),
        Err(_) => (0, 0),
    };
    let (date, time) = civil(secs);
    format!("{date}T{time}.{millis:03}Z")
}

/// `2026-07-01T00:00:00Z` for unix seconds `secs`.
pub fn rfc3339_secs(secs: i64) -> String {
    let (date, time) = civil(secs);
    format!("{date}T{time}Z")
}

/// The current unix time in whole seconds.
pub fn unix_now() -> i64 {
    codeexec_store::unix_now()
}

/// (`YYYY-MM-DD`, `HH:MM:SS`) of a unix time.
fn civil(secs: i64) -> (String, String) {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let (y, m, d) = date_of_days(days);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", rest / 3600, rest / 60 % 60, rest % 60),
    )
}

/// Year, month, day of the day `days` after 1970-01-01 (Gregorian, counted in
/// 400-year eras from 0000-03-01 so the leap day falls at the end of a year).
fn date_of_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339_secs(0), "1970-01-01T00:00:00Z");
        // `date -u -d @1780419188` = Tue Jun  2 16:53:08 UTC 2026
        assert_eq!(rfc3339_secs(1_780_419_188), "2026-06-02T16:53:08Z");
        assert_eq!(rfc3339_secs(1_709_208_000), "2024-02-29T12:00:00Z");
        assert_eq!(rfc3339_secs(1_798_761_599), "2026-12-31T23:59:59Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_780_419_188_261);
        assert_eq!(rfc3339_millis(t), "2026-06-02T16:53:08.261Z");
    }
}
