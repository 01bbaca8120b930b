//! Tag decisions: does a bucket ask for protection, and is it one of our destinations.

/// Tag s3-dr puts on every destination bucket; its presence on a source is the loop guard.
pub const SOURCE_TAG: &str = "s3-dr:source";

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tag {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Value")]
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Tag {
        Tag { key: key.into(), value: value.into() }
    }
}

/// The tag that requests protection; key and value compare case-insensitively
/// (`DR=True` counts as `dr=true`), surrounding whitespace ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchTag {
    pub key: String,
    pub value: String,
}

impl MatchTag {
    /// `KEY=VALUE`; the value may be empty, the key may not.
    pub fn parse(text: &str) -> Option<MatchTag> {
        let (key, value) = text.split_once('=')?;
        let key = key.trim();
        (!key.is_empty()).then(|| MatchTag { key: key.to_owned(), value: value.trim().to_owned() })
    }

    pub fn matches(&self, tags: &[Tag]) -> bool {
        tags.iter().any(|tag| {
            tag.key.trim().eq_ignore_ascii_case(&self.key) && tag.value.trim().eq_ignore_ascii_case(&self.value)
        })
    }
}

impl std::fmt::Display for MatchTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// The source bucket a destination was made for, if `tags` carry our marker.
pub fn destination_of(tags: &[Tag]) -> Option<&str> {
    tags.iter().find(|t| t.key == SOURCE_TAG).map(|t| t.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn dr() -> MatchTag {
        MatchTag { key: "dr".into(), value: "true".into() }
    }

    #[test]
    fn matches_case_insensitively() {
        for (k, v) in [("dr", "true"), ("DR", "True"), ("Dr", "TRUE"), (" dr ", " true ")] {
            assert!(dr().matches(&[Tag::new("team", "x"), Tag::new(k, v)]), "{k}={v}");
        }
    }

    #[test]
    fn other_values_or_keys_do_not_match() {
        for (k, v) in [("dr", "false"), ("dr", ""), ("drx", "true"), ("disaster", "true")] {
            assert!(!dr().matches(&[Tag::new(k, v)]), "{k}={v}");
        }
        assert!(!dr().matches(&[]));
    }

    #[test]
    fn parse_rejects_an_empty_key() -> TestResult {
        assert_eq!(MatchTag::parse("=true"), None);
        assert_eq!(MatchTag::parse("dr"), None);
        assert_eq!(MatchTag::parse(" Backup = yes ").ok_or("no tag")?.to_string(), "Backup=yes");
        assert_eq!(MatchTag::parse("dr=true"), Some(dr()));
        Ok(())
    }

    #[test]
    fn destinations_are_recognised_by_their_marker() {
        assert_eq!(destination_of(&[Tag::new(SOURCE_TAG, "photos")]), Some("photos"));
        assert_eq!(destination_of(&[Tag::new("dr", "true")]), None);
    }
}
