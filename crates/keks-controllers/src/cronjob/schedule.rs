//! CronJob schedules as kube parses them (robfig/cron's `ParseStandard`): five fields
//! (minute hour day-of-month month day-of-week) with `*`, `?`, lists, ranges, steps and
//! month/day names; the descriptors `@yearly`/`@annually`, `@monthly`, `@weekly`,
//! `@daily`/`@midnight`, `@hourly` and `@every <duration>`. When both day fields are
//! restricted a day matches either (cron's rule). Times are computed in the CronJob's
//! `timeZone` (IANA name, UTC when unset) with jiff; a local time skipped by a DST change
//! runs at the shifted time, a repeated one runs once.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::Timestamp;

#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    Cron(Fields),
    /// `@every`: a fixed delay.
    Every(Duration),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fields {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Whether the day fields were `*`/`?` (then they do not restrict with OR).
    days_star: bool,
    weekdays_star: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Parses a schedule; the error words what is wrong, as robfig's parser does.
pub fn parse(spec: &str) -> Result<Schedule, String> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err("empty spec string".into());
    }
    if let Some(rest) = spec.strip_prefix("@every ") {
        let d = parse_go_duration(rest.trim())
            .ok_or_else(|| format!("failed to parse duration {spec}"))?;
        // robfig rounds up to at least a second.
        return Ok(Schedule::Every(d.max(Duration::from_secs(1))));
    }
    let expanded = match spec {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        s if s.starts_with('@') => return Err(format!("unrecognized descriptor: {s}")),
        s => s,
    };
    let parts: Vec<&str> = expanded.split_whitespace().collect();
    if parts.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: {spec}",
            parts.len()
        ));
    }
    Ok(Schedule::Cron(Fields {
        minutes: field(parts[0], 0, 59, &[])?,
        hours: field(parts[1], 0, 23, &[])?,
        days: field(parts[2], 1, 31, &[])?,
        months: field(parts[3], 1, 12, &MONTHS)?,
        weekdays: field(parts[4], 0, 6, &WEEKDAYS)?,
        days_star: is_star(parts[2]),
        weekdays_star: is_star(parts[4]),
    }))
}

fn is_star(f: &str) -> bool {
    f.starts_with('*') || f.starts_with('?')
}

/// One field as a bit set of the values it allows.
fn field(text: &str, min: u32, max: u32, names: &[&str]) -> Result<u64, String> {
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| format!("failed to parse int from {s}"))?;
                if step == 0 {
                    return Err(format!("step of range should be a positive number: {part}"));
                }
                (r, Some(step))
            }
            None => (part, None),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, names, min)?, value(b, names, min)?)
        } else {
            let v = value(range, names, min)?;
            // `a/n` means from a to the end, stepping n.
            (v, if step.is_some() { max } else { v })
        };
        if lo < min || hi > max {
            return Err(format!("end of range ({hi}) above maximum ({max}): {part}"));
        }
        if lo > hi {
            return Err(format!(
                "beginning of range ({lo}) beyond end of range ({hi}): {part}"
            ));
        }
        let step = step.unwrap_or(1);
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

fn value(text: &str, names: &[&str], min: u32) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = names.iter().position(|n| *n == lower) {
        return Ok(i as u32 + min);
    }
    text.parse()
        .map_err(|_| format!("failed to parse int from {text}"))
}

/// Go's `time.ParseDuration` for the units cron durations use (h, m, s, ms).
fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        total += Duration::from_secs_f64(n * secs);
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// The time zone of a CronJob's `timeZone` (UTC when unset).
pub fn time_zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        None | Some("") | Some("UTC") | Some("Etc/UTC") => Ok(TimeZone::UTC),
        Some(n) => TimeZone::get(n).map_err(|e| format!("unknown time zone {n}: {e}")),
    }
}

fn to_timestamp(t: SystemTime) -> Timestamp {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn to_system(t: Timestamp) -> SystemTime {
    let secs = t.as_second();
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

impl Fields {
    fn day_matches(&self, date: Date) -> bool {
        if self.months & (1 << date.month() as u32) == 0 {
            return false;
        }
        let dom = self.days & (1 << date.day() as u32) != 0;
        let dow = self.weekdays & (1 << date.weekday().to_sunday_zero_offset() as u32) != 0;
        if self.days_star || self.weekdays_star {
            dom && dow
        } else {
            dom || dow
        }
    }
}

impl Schedule {
    /// The first scheduled time strictly after `after`, in `tz`; `None` if there is none
    /// within five years (e.g. `0 0 30 2 *`).
    pub fn next_after(&self, after: SystemTime, tz: &TimeZone) -> Option<SystemTime> {
        let fields = match self {
            Schedule::Every(d) => {
                let whole = after
                    .duration_since(UNIX_EPOCH)
                    .map(|e| Duration::from_secs(e.as_secs()))
                    .unwrap_or_default();
                return Some(UNIX_EPOCH + whole + *d);
            }
            Schedule::Cron(f) => f,
        };
        let after_ts = to_timestamp(after);
        // Start at the next whole minute, in local time.
        let start = Timestamp::from_second((after_ts.as_second() / 60 + 1) * 60).ok()?;
        let local: DateTime = start.to_zoned(tz.clone()).datetime();
        let mut date = local.date();
        for day in 0..(366 * 5) {
            if fields.day_matches(date) {
                let first = day == 0;
                for hour in 0..24u32 {
                    if fields.hours & (1 << hour) == 0 || (first && hour < local.hour() as u32) {
                        continue;
                    }
                    for minute in 0..60u32 {
                        if fields.minutes & (1 << minute) == 0
                            || (first
                                && hour == local.hour() as u32
                                && minute < local.minute() as u32)
                        {
                            continue;
                        }
                        let dt = date.at(hour as i8, minute as i8, 0, 0);
                        let Ok(z) = dt.to_zoned(tz.clone()) else {
                            continue;
                        };
                        if z.timestamp() > after_ts {
                            return Some(to_system(z.timestamp()));
                        }
                    }
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// The latest scheduled time in (`earliest`, `now`], and how many were missed in that
    /// span (counted up to 101, enough to say "more than 100").
    pub fn most_recent(
        &self,
        earliest: SystemTime,
        now: SystemTime,
        tz: &TimeZone,
    ) -> (Option<SystemTime>, usize) {
        let mut t = earliest;
        let mut last = None;
        let mut missed = 0;
        while let Some(next) = self.next_after(t, tz).filter(|n| *n <= now) {
            last = Some(next);
            missed += 1;
            t = next;
            if missed > 100 {
                break;
            }
        }
        if missed <= 100 {
            return (last, missed);
        }
        // Many missed: find the latest by searching ever wider windows before `now`.
        for window in [3600u64, 86_400, 31 * 86_400, 366 * 86_400, 5 * 366 * 86_400] {
            let from = now - Duration::from_secs(window);
            if from < earliest {
                break;
            }
            let mut t = from;
            let mut found = None;
            while let Some(next) = self.next_after(t, tz).filter(|n| *n <= now) {
                found = Some(next);
                t = next;
            }
            if found.is_some() {
                return (found, missed);
            }
        }
        (last, missed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keks_apiserver::rest::meta::{parse as time, timestamp};

    fn next(spec: &str, after: &str, tz: &str) -> String {
        let s = parse(spec).unwrap();
        let tz = time_zone(Some(tz)).unwrap();
        timestamp(s.next_after(time(after).unwrap(), &tz).unwrap())
    }

    #[test]
    fn fields_parse_like_robfig_cron() {
        assert!(parse("* * * * *").is_ok());
        assert!(parse("*/15 9-17 * JAN-jun mon-fri").is_ok());
        assert!(parse("5/20 0 1,15 * ?").is_ok());
        assert!(parse("@hourly").is_ok());
        assert_eq!(
            parse("@every 1h30m").unwrap(),
            Schedule::Every(Duration::from_secs(5400))
        );
        assert!(parse("* * * *").unwrap_err().contains("exactly 5 fields"));
        assert!(parse("60 * * * *").is_err());
        assert!(parse("* * * * 7").is_err());
        assert!(parse("*/0 * * * *").is_err());
        assert!(parse("@fortnightly").is_err());
    }

    #[test]
    fn next_times_in_utc() {
        assert_eq!(
            next("* * * * *", "2024-01-01T00:00:00Z", "UTC"),
            "2024-01-01T00:01:00Z"
        );
        assert_eq!(
            next("* * * * *", "2024-01-01T00:00:30Z", "UTC"),
            "2024-01-01T00:01:00Z"
        );
        assert_eq!(
            next("*/15 * * * *", "2024-01-01T00:14:59Z", "UTC"),
            "2024-01-01T00:15:00Z"
        );
        assert_eq!(
            next("@hourly", "2024-01-01T00:00:00Z", "UTC"),
            "2024-01-01T01:00:00Z"
        );
        assert_eq!(
            next("0 0 * * *", "2024-01-31T23:59:00Z", "UTC"),
            "2024-02-01T00:00:00Z"
        );
        assert_eq!(
            next("@yearly", "2024-03-01T00:00:00Z", "UTC"),
            "2025-01-01T00:00:00Z"
        );
        assert_eq!(
            next("0 9 29 2 *", "2024-03-01T00:00:00Z", "UTC"),
            "2028-02-29T09:00:00Z"
        );
        // 2024-01-01 is a Monday. Day of month OR day of week when both are restricted.
        assert_eq!(
            next("0 0 15 * fri", "2024-01-01T00:00:00Z", "UTC"),
            "2024-01-05T00:00:00Z"
        );
        assert_eq!(
            next("0 0 * * sun", "2024-01-01T00:00:00Z", "UTC"),
            "2024-01-07T00:00:00Z"
        );
        assert_eq!(
            next("30 4 1 * *", "2024-01-01T04:30:00Z", "UTC"),
            "2024-02-01T04:30:00Z"
        );
        assert!(parse("0 0 30 2 *")
            .unwrap()
            .next_after(time("2024-01-01T00:00:00Z").unwrap(), &TimeZone::UTC)
            .is_none());
    }

    #[test]
    fn next_times_in_a_time_zone() {
        // 09:00 in New York is 14:00 UTC in winter, 13:00 in summer.
        assert_eq!(
            next("0 9 * * *", "2024-01-01T00:00:00Z", "America/New_York"),
            "2024-01-01T14:00:00Z"
        );
        assert_eq!(
            next("0 9 * * *", "2024-07-01T00:00:00Z", "America/New_York"),
            "2024-07-01T13:00:00Z"
        );
        // 02:30 does not exist on 2024-03-10 there: it runs at the shifted time.
        assert_eq!(
            next("30 2 * * *", "2024-03-10T05:00:00Z", "America/New_York"),
            "2024-03-10T07:30:00Z"
        );
        assert!(time_zone(Some("Mars/Olympus")).is_err());
    }

    #[test]
    fn most_recent_counts_missed_times() {
        let s = parse("*/10 * * * *").unwrap();
        let (t, n) = s.most_recent(
            time("2024-01-01T00:00:00Z").unwrap(),
            time("2024-01-01T00:35:00Z").unwrap(),
            &TimeZone::UTC,
        );
        assert_eq!(timestamp(t.unwrap()), "2024-01-01T00:30:00Z");
        assert_eq!(n, 3);
        let every_minute = parse("* * * * *").unwrap();
        let (t, n) = every_minute.most_recent(
            time("2024-01-01T00:00:00Z").unwrap(),
            time("2024-01-03T00:00:30Z").unwrap(),
            &TimeZone::UTC,
        );
        assert_eq!(timestamp(t.unwrap()), "2024-01-03T00:00:00Z");
        assert!(n > 100);
        let (none, _) = s.most_recent(
            time("2024-01-01T00:00:00Z").unwrap(),
            time("2024-01-01T00:05:00Z").unwrap(),
            &TimeZone::UTC,
        );
        assert!(none.is_none());
    }
}
