//! Destination bucket naming: `<source><suffix>` when that is a valid bucket name, otherwise a
//! deterministic valid name (truncated source + short hash + suffix) that is the same on
//! every run, so re-runs find the bucket they created.

use sha2::{Digest, Sha256};

pub const MAX_BUCKET_NAME_LEN: usize = 63;
const HASH_LEN: usize = 8;
/// Longest suffix that still leaves room for a readable prefix and the hash.
pub const MAX_SUFFIX_LEN: usize = 20;

const RESERVED_PREFIXES: &[&str] = &["xn--", "sthree-", "amzn-s3-demo-"];
const RESERVED_SUFFIXES: &[&str] = &["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/// The general purpose bucket naming rules of S3 (not the legacy us-east-1 ones).
pub fn is_valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=MAX_BUCKET_NAME_LEN).contains(&name.len())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && !name.contains("..")
        && !looks_like_ip_address(name)
        && !RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
        && !RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Names an existing bucket may have: also the legacy us-east-1 forms (uppercase, `_`, up to
/// 255 characters). Used to reject malformed input before any AWS call.
pub fn is_plausible_existing_bucket_name(name: &str) -> bool {
    why_not_a_bucket_name(name).is_none()
}

/// The rule `name` breaks for an existing bucket's name, if any (the Lambda's input check and
/// the CLI's arguments share it). Buckets made in us-east-1 before March 2018 may have names of
/// up to 255 characters with uppercase letters and `_`, so those pass: S3 answers for them.
pub fn why_not_a_bucket_name(name: &str) -> Option<String> {
    if !(3..=255).contains(&name.len()) {
        return Some(format!(
            "a bucket name has 3 to 63 characters (255 for legacy us-east-1 buckets); this one has {}",
            name.len()
        ));
    }
    name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))).map(|c| {
        format!("a bucket name has only letters, digits, '.', '-' (and '_' in legacy names); this one has {c:?}")
    })
}

fn looks_like_ip_address(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() == 4 && parts.iter().all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A suffix is usable if appending it to a short valid name gives a valid name.
pub fn check_suffix(suffix: &str) -> Result<(), String> {
    if suffix.is_empty() || suffix.len() > MAX_SUFFIX_LEN {
        return Err(format!("must be 1 to {MAX_SUFFIX_LEN} characters"));
    }
    if !is_valid_bucket_name(&format!("abc{suffix}")) {
        return Err(
            "must use lowercase letters, digits, '-' or '.', end with a letter or digit, and not form a reserved name"
                .to_owned(),
        );
    }
    Ok(())
}

/// The source whose plain destination name `bucket` is (`<source><suffix>`), if it is one. A
/// long source's destination is shortened with a hash and cannot be traced back by name (its
/// `s3-dr:source` tag says, while it exists; the sweep finds it otherwise).
pub fn source_named_by(bucket: &str, suffix: &str) -> Option<String> {
    let source = bucket.strip_suffix(suffix).filter(|s| !s.is_empty())?;
    (destination_bucket_name(source, suffix) == bucket).then(|| source.to_owned())
}

/// The first `hex_chars` hexadecimal digits of the SHA-256 of `text`: the one short, stable
/// hash behind shortened names (buckets, executions) and request tokens.
pub fn hex_digest(text: &str, hex_chars: usize) -> String {
    let mut hex: String = Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(hex_chars);
    hex
}

/// The destination bucket name for `source`. Deterministic: the same inputs always give the
/// same name. `suffix` must have passed [`check_suffix`].
pub fn destination_bucket_name(source: &str, suffix: &str) -> String {
    let plain = format!("{source}{suffix}");
    if is_valid_bucket_name(&plain) {
        return plain;
    }
    // The hash is of the exact source name, so two sources that sanitize or truncate to the
    // same prefix still get different destinations.
    let hash = hex_digest(source, HASH_LEN);
    let room = MAX_BUCKET_NAME_LEN - suffix.len() - HASH_LEN - 1;
    let sanitized: String = source
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' { c } else { '-' })
        .collect();
    let mut prefix: String = sanitized.chars().take(room).collect();
    while prefix.contains("..") {
        prefix = prefix.replace("..", ".");
    }
    let prefix = prefix.trim_matches(|c: char| c == '-' || c == '.');
    let candidate = format!("{prefix}-{hash}{suffix}");
    if !prefix.is_empty() && is_valid_bucket_name(&candidate) {
        candidate
    } else {
        format!("s3dr-{hash}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_get_the_plain_suffix() {
        assert_eq!(destination_bucket_name("photos", "-dr"), "photos-dr");
        assert_eq!(destination_bucket_name("a.b.c", "-dr"), "a.b.c-dr");
    }

    #[test]
    fn long_names_are_truncated_with_a_stable_hash() {
        let source = "a".repeat(61);
        let name = destination_bucket_name(&source, "-dr");
        assert!(is_valid_bucket_name(&name), "{name}");
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("-dr"));
        assert_eq!(name, destination_bucket_name(&source, "-dr"), "must be deterministic");
        let other = format!("{}b", "a".repeat(60));
        assert_ne!(name, destination_bucket_name(&other, "-dr"), "different sources, different names");
    }

    #[test]
    fn every_length_up_to_the_maximum_gives_a_valid_name() {
        for len in 3..=63 {
            for suffix in ["-dr", "-replica-us-east-2", ".dr"] {
                let source = format!("b{}", "x-y.z".repeat(13)).chars().take(len).collect::<String>();
                let source = source.trim_end_matches(['-', '.']).to_owned() + "q";
                let name = destination_bucket_name(&source, suffix);
                assert!(is_valid_bucket_name(&name), "{source} + {suffix} -> {name}");
                assert!(name.ends_with(suffix));
            }
        }
    }

    #[test]
    fn legacy_names_are_sanitized() {
        let name = destination_bucket_name("My_Legacy_Bucket", "-dr");
        assert!(is_valid_bucket_name(&name), "{name}");
        assert!(name.starts_with("my-legacy-bucket-"));
        assert_ne!(name, destination_bucket_name("my-legacy-bucket", "-dr"));
    }

    #[test]
    fn names_that_would_be_reserved_get_a_hash() {
        assert!(is_valid_bucket_name(&destination_bucket_name("logs--ol", "-s3")));
        assert_ne!(destination_bucket_name("logs--ol", "-s3"), "logs--ol-s3");
    }

    #[test]
    fn naming_rules() {
        for bad in ["ab", "Abc", "a..b", "-abc", "abc-", "192.168.1.1", "xn--abc", "abc-s3alias", &"a".repeat(64)] {
            assert!(!is_valid_bucket_name(bad), "{bad}");
        }
        for good in ["abc", "a.b-c", "my-bucket-1", &"a".repeat(63)] {
            assert!(is_valid_bucket_name(good), "{good}");
        }
    }

    #[test]
    fn a_plain_destination_name_leads_back_to_its_source() {
        assert_eq!(source_named_by("photos-dr", "-dr").as_deref(), Some("photos"));
        assert_eq!(source_named_by("photos", "-dr"), None);
        assert_eq!(source_named_by("-dr", "-dr"), None);
        // A hashed name does not lead to its long source (whose name is not in it).
        let long = "a".repeat(62);
        let hashed = destination_bucket_name(&long, "-dr");
        assert_ne!(source_named_by(&hashed, "-dr"), Some(long));
        // A name that merely ends with the suffix but is not what the source would get.
        assert_eq!(source_named_by("xn--ab-dr", "-dr"), None);
    }

    #[test]
    fn suffix_rules() {
        assert!(check_suffix("-dr").is_ok());
        assert!(check_suffix(".backup").is_ok());
        for bad in ["", "-DR", "-dr-", "_dr", "-s3alias", &"-".repeat(21)] {
            assert!(check_suffix(bad).is_err(), "{bad}");
        }
    }
}
