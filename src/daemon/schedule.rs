//! When each profile is scanned: a cron pattern (`croner`: the usual five fields, or six with
//! seconds in front), evaluated in UTC.

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds};

#[derive(Debug, Clone)]
pub struct Schedule {
    pattern: String,
    cron: croner::Cron,
}

impl Schedule {
    pub fn parse(pattern: &str) -> Result<Schedule, String> {
        let cron =
            CronParser::builder().seconds(Seconds::Optional).build().parse(pattern).map_err(|e| e.to_string())?;
        // A pattern that never matches (31 February) is an error now, not a daemon that idles.
        cron.find_next_occurrence(&Utc::now(), false).map_err(|e| format!("it never matches ({e})"))?;
        Ok(Schedule { pattern: pattern.to_string(), cron })
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The first time strictly after `after` that the pattern matches.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&after, false).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_and_six_field_patterns() {
        let start = DateTime::parse_from_rfc3339("2026-12-01T10:20:30Z").unwrap().with_timezone(&Utc);
        let weekly = Schedule::parse("0 3 * * 1").unwrap();
        assert_eq!(weekly.next_after(start).unwrap().to_rfc3339(), "2026-12-07T03:00:00+00:00");
        let minutely = Schedule::parse("* * * * *").unwrap();
        assert_eq!(minutely.next_after(start).unwrap().to_rfc3339(), "2026-12-01T10:21:00+00:00");
        let every_five_seconds = Schedule::parse("*/5 * * * * *").unwrap();
        assert_eq!(every_five_seconds.next_after(start).unwrap().to_rfc3339(), "2026-12-01T10:20:35+00:00");
        assert!(Schedule::parse("0 3 * *").is_err());
        assert!(Schedule::parse("0 0 31 2 *").is_err());
    }
}
