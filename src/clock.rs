//! UTC dates and times as s3-dr writes them (tags, execution names), with the `time` crate.

use std::time::SystemTime;

use time::OffsetDateTime;

/// Whether at least `margin` is left before `deadline` (None: no deadline, always).
pub fn time_left(deadline: Option<SystemTime>, margin: std::time::Duration) -> bool {
    deadline.is_none_or(|d| d.duration_since(SystemTime::now()).is_ok_and(|left| left >= margin))
}

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
    let number = |text: &str, from: usize, to: usize| text[from..to].parse::<i64>().ok();
    utc_seconds([
        day[..4].parse().ok()?,
        number(day, 4, 6)?,
        number(day, 6, 8)?,
        number(hms, 0, 2)?,
        number(hms, 2, 4)?,
        number(hms, 4, 6)?,
    ])
}

/// Unix seconds of a UTC `[year, month, day, hour, minute, second]`, if it is a real time.
fn utc_seconds([year, month, day, hour, minute, second]: [i64; 6]) -> Option<i64> {
    let small = |n: i64| u8::try_from(n).ok();
    let month = time::Month::try_from(small(month)?).ok()?;
    let date = time::Date::from_calendar_date(i32::try_from(year).ok()?, month, small(day)?).ok()?;
    let clock = time::Time::from_hms(small(hour)?, small(minute)?, small(second)?).ok()?;
    Some(time::PrimitiveDateTime::new(date, clock).assume_utc().unix_timestamp())
}

/// An ISO 8601 UTC time as S3 Inventory writes it (`2026-11-26T20:30:15.000Z`; the fraction
/// is dropped), as Unix seconds. Without allocating: it runs once per inventory row.
pub fn parse_iso_seconds(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[b.len() - 1] != b'Z'
    {
        return None;
    }
    let fraction = &b[19..b.len() - 1];
    if !(fraction.is_empty()
        || (fraction.len() > 1 && fraction[0] == b'.' && fraction[1..].iter().all(u8::is_ascii_digit)))
    {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<i64> {
        b[from..to].iter().try_fold(0i64, |n, &d| d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0')))
    };
    utc_seconds([number(0, 4)?, number(5, 7)?, number(8, 10)?, number(11, 13)?, number(14, 16)?, number(17, 19)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn inventory_times() {
        assert_eq!(parse_iso_seconds("1970-01-01T00:00:10.000Z"), Some(10));
        assert_eq!(parse_iso_seconds("2026-11-26T20:30:15Z"), parse_second_stamp("20261126T203015Z"));
        for bad in [
            "",
            "2026-11-26 20:30:15Z",
            "2026-11-26T20:30:15.Z",
            "2026-13-26T20:30:15.000Z",
            "2026-11-26T20:30:15.0x0Z",
        ] {
            assert_eq!(parse_iso_seconds(bad), None, "{bad}");
        }
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
