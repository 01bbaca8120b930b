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

/// [`second_stamp`] read back, as Unix seconds.
pub fn parse_second_stamp(stamp: &str) -> Option<i64> {
    let digits = stamp.strip_suffix('Z')?;
    let (day, hms) = digits.split_once('T')?;
    if day.len() != 8 || hms.len() != 6 || !day.bytes().chain(hms.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |text: &str, from: usize, to: usize| text[from..to].parse::<u8>().ok();
    let year: i32 = day[..4].parse().ok()?;
    let month = time::Month::try_from(number(day, 4, 6)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, number(day, 6, 8)?).ok()?;
    let clock = time::Time::from_hms(number(hms, 0, 2)?, number(hms, 2, 4)?, number(hms, 4, 6)?).ok()?;
    Some(time::PrimitiveDateTime::new(date, clock).assume_utc().unix_timestamp())
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
        for seconds in [0, 951_782_400, 1_795_669_323] {
            assert_eq!(parse_second_stamp(&second_stamp(at(seconds))), Some(seconds as i64));
        }
        for bad in ["", "20261126T050203", "20261326T050203Z", "2026112xT050203Z", "20261126T250203Z"] {
            assert_eq!(parse_second_stamp(bad), None, "{bad}");
        }
    }
}
