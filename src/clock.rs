//! UTC dates and times as s3-dr writes them (tags, execution names), with the `time` crate.

use std::time::SystemTime;

use time::OffsetDateTime;

/// `YYYY-MM-DD`.
pub fn date(at: SystemTime) -> String {
    let t = OffsetDateTime::from(at);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// Today's UTC date, `YYYY-MM-DD`.
pub fn today() -> String {
    date(SystemTime::now())
}

/// `YYYYMMDDTHHMM`: the start of an execution-name window.
pub fn minute_stamp(at: SystemTime) -> String {
    let t = OffsetDateTime::from(at);
    format!("{:04}{:02}{:02}T{:02}{:02}", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

/// `YYYYMMDDTHHMMSSZ`.
pub fn second_stamp(at: SystemTime) -> String {
    let t = OffsetDateTime::from(at);
    format!("{}{:02}Z", minute_stamp(at), t.second())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn utc_stamps() {
        assert_eq!(second_stamp(at(0)), "19700101T000000Z");
        assert_eq!(second_stamp(at(951_782_400)), "20000229T000000Z");
        assert_eq!(second_stamp(at(1_795_665_600 + 3_723)), "20261126T050203Z");
        assert_eq!(minute_stamp(at(1_795_670_100)), "20261126T0515");
        assert_eq!(date(at(1_795_665_600)), "2026-11-26");
        assert_eq!(today().len(), 10);
    }
}
