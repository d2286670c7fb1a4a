//! Calendar months (UTC) over unix time, without a date-time crate.
//!
//! Quotas count calls per calendar month in UTC. All we need is "which month is this
//! second in" and "when does that month end", which is the proleptic Gregorian calendar
//! arithmetic below (days since 1970-01-01 <-> year, month, day), done with 400-year eras
//! so leap years (every 4th, not every 100th, but every 400th) fall out of the counting.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

const SECS_PER_DAY: i64 = 86_400;
/// Days in a 400-year era of the Gregorian calendar.
const DAYS_PER_ERA: i64 = 146_097;
/// Days from 0000-03-01 (the calendar counted from March, so the leap day is last) to
/// 1970-01-01.
const EPOCH_SHIFT: i64 = 719_468;

/// The earliest and latest years a [`Month`] holds: four-digit years keep the text form
/// (`"2026-11"`) fixed-width and sortable.
const MIN_YEAR: i32 = 0;
const MAX_YEAR: i32 = 9999;

/// A calendar month in UTC, written `"YYYY-MM"` (e.g. `"2026-11"`), as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u8,
}

impl Month {
    /// The month `year`-`month`, or `None` unless `0 <= year <= 9999` and `1 <= month <= 12`.
    pub fn new(year: i32, month: u8) -> Option<Month> {
        ((MIN_YEAR..=MAX_YEAR).contains(&year) && (1..=12).contains(&month))
            .then_some(Month { year, month })
    }

    /// The month that unix time `secs` falls in. Times outside years 0000..=9999 are
    /// clamped to the first or last month (no real clock is that far off).
    pub fn from_unix(secs: i64) -> Month {
        let min = Month::new(MIN_YEAR, 1).expect("valid").start_unix();
        let max = Month::new(MAX_YEAR, 12).expect("valid").next_start_unix() - 1;
        let days = secs.clamp(min, max).div_euclid(SECS_PER_DAY);
        let (year, month, _day) = civil_from_days(days);
        Month {
            year: i32::try_from(year).expect("clamped to four-digit years"),
            month,
        }
    }

    /// The month of the system clock now.
    pub fn current() -> Month {
        Month::from_unix(unix_now())
    }

    pub fn year(self) -> i32 {
        self.year
    }

    /// 1 = January … 12 = December.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The first second of this month, unix time.
    pub fn start_unix(self) -> i64 {
        days_from_civil(i64::from(self.year), self.month, 1) * SECS_PER_DAY
    }

    /// The first second of the next month, unix time: when a monthly quota resets.
    pub fn next_start_unix(self) -> i64 {
        let (year, month) = if self.month == 12 {
            (i64::from(self.year) + 1, 1)
        } else {
            (i64::from(self.year), self.month + 1)
        };
        days_from_civil(year, month, 1) * SECS_PER_DAY
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The error of parsing a month that is not `"YYYY-MM"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a month of the form YYYY-MM (e.g. 2026-11)")]
pub struct ParseMonthError(String);

impl FromStr for Month {
    type Err = ParseMonthError;

    fn from_str(s: &str) -> Result<Month, ParseMonthError> {
        let bad = || ParseMonthError(s.to_owned());
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(y, 4) || !digits(m, 2) {
            return Err(bad());
        }
        let year = y.parse().map_err(|_| bad())?;
        let month = m.parse().map_err(|_| bad())?;
        Month::new(year, month).ok_or_else(bad)
    }
}

/// Seconds since 1970-01-01T00:00:00Z by the system clock (negative before it).
pub fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// Year, month (1..=12) and day (1..=31) of the day `days` after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    // Count from 0000-03-01 so that February, with its leap day, ends each year.
    let z = days + EPOCH_SHIFT;
    let era = z.div_euclid(DAYS_PER_ERA);
    let day_of_era = z.rem_euclid(DAYS_PER_ERA); // 0..=146096
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March = 0; 153 days per 5 months (31+30+31+30+31).
    let shifted_month = (5 * day_of_year + 2) / 153; // 0..=11
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u8, day as u8)
}

/// Days from 1970-01-01 to `year`-`month`-`day` (the inverse of [`civil_from_days`]).
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let month = i64::from(month);
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * DAYS_PER_ERA + day_of_era - EPOCH_SHIFT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(s: &str) -> Month {
        s.parse().unwrap()
    }

    /// An independent, slow oracle: walk month by month from 1970, adding month lengths
    /// from the leap-year rule written out plainly.
    fn month_lengths_from_1970() -> impl Iterator<Item = (i32, u8, i64)> {
        let is_leap = |y: i32| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        (1970..2500).flat_map(move |y| {
            (1..=12u8).map(move |m| {
                let len = match m {
                    2 if is_leap(y) => 29,
                    2 => 28,
                    4 | 6 | 9 | 11 => 30,
                    _ => 31,
                };
                (y, m, len)
            })
        })
    }

    #[test]
    fn month_starts_match_a_naive_calendar_for_five_centuries() {
        let mut start = 0i64;
        for (y, m, len_days) in month_lengths_from_1970() {
            let mo = Month::new(y, m).unwrap();
            assert_eq!(mo.start_unix(), start, "{mo}");
            assert_eq!(Month::from_unix(start), mo, "first second of {mo}");
            assert_eq!(Month::from_unix(start - 1).next_start_unix(), start, "{mo}");
            let next = start + len_days * SECS_PER_DAY;
            assert_eq!(mo.next_start_unix(), next, "{mo}");
            assert_eq!(Month::from_unix(next - 1), mo, "last second of {mo}");
            start = next;
        }
    }

    #[test]
    fn known_instants() {
        // Values checked with `date -u -d @N`.
        assert_eq!(Month::from_unix(0), month("1970-01"));
        assert_eq!(Month::from_unix(-1), month("1969-12"));
        // 2026-11-30T23:59:59Z and 2026-12-01T00:00:00Z
        assert_eq!(Month::from_unix(1_796_083_199), month("2026-11"));
        assert_eq!(Month::from_unix(1_796_083_200), month("2026-12"));
        assert_eq!(month("2026-11").next_start_unix(), 1_796_083_200);
        // New year: 2026-12-31T23:59:59Z → resets 2027-01-01T00:00:00Z
        assert_eq!(month("2026-12").next_start_unix(), 1_798_761_600);
        assert_eq!(Month::from_unix(1_798_761_600), month("2027-01"));
    }

    #[test]
    fn leap_years() {
        // 2024 is a leap year: 2024-02-29T12:00:00Z is in February, resets 2024-03-01.
        assert_eq!(Month::from_unix(1_709_208_000), month("2024-02"));
        assert_eq!(month("2024-02").next_start_unix(), 1_709_251_200);
        assert_eq!(
            month("2024-02").next_start_unix() - month("2024-02").start_unix(),
            29 * SECS_PER_DAY
        );
        // 2100 is not (divisible by 100), 2000 is (divisible by 400).
        let feb_days = |y| {
            let m = Month::new(y, 2).unwrap();
            (m.next_start_unix() - m.start_unix()) / SECS_PER_DAY
        };
        assert_eq!(feb_days(2100), 28);
        assert_eq!(feb_days(2000), 29);
        assert_eq!(feb_days(2026), 28);
        assert_eq!(feb_days(1900), 28);
    }

    #[test]
    fn text_form_round_trips_and_rejects_junk() {
        assert_eq!(month("2026-11").to_string(), "2026-11");
        assert_eq!(Month::new(7, 3).unwrap().to_string(), "0007-03");
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-11",
            "2026/11",
            "+026-11",
            "",
            "2026-11-01",
        ] {
            assert!(bad.parse::<Month>().is_err(), "{bad:?}");
        }
        assert!(month("2026-09") < month("2026-10"));
    }

    #[test]
    fn extremes_clamp_instead_of_overflowing() {
        assert_eq!(Month::from_unix(i64::MAX), month("9999-12"));
        assert_eq!(Month::from_unix(i64::MIN), month("0000-01"));
        assert_eq!(month("9999-12").next_start_unix(), 253_402_300_800);
    }

    #[test]
    fn now_is_plausible() {
        let now = unix_now();
        assert!(now > 1_700_000_000, "clock before 2023: {now}");
        let current = Month::current();
        assert!(Month::from_unix(now) <= current && current <= Month::from_unix(unix_now()));
    }
}
