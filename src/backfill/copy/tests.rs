use super::*;

fn object(size: u64) -> Listed {
    Listed { key: format!("k{size}"), size, etag: String::new(), last_modified: 0 }
}

#[test]
fn a_page_holds_what_fits_its_byte_budget_and_at_least_one_object() {
    let objects = [object(40), object(40), object(40)];
    assert_eq!(within_bytes(&objects, 100), 2);
    assert_eq!(within_bytes(&objects, 120), 3);
    assert_eq!(within_bytes(&objects, 10), 1, "an object larger than the budget still goes alone");
    assert_eq!(within_bytes(&[], 10), 0);
}

#[test]
fn the_deadline_leaves_a_margin() {
    assert!(time_left(None, START_MARGIN));
    assert!(!time_left(Some(SystemTime::now()), START_MARGIN));
    assert!(!time_left(Some(SystemTime::now() + Duration::from_secs(60)), START_MARGIN));
    assert!(time_left(Some(SystemTime::now() + Duration::from_secs(600)), START_MARGIN));
}

#[test]
fn failed_copies_of_archived_or_sse_c_objects_are_reported_not_failed() {
    let failed = |code: &str, message: &str| DrError::AwsRequestFailed {
        bucket: "photos-dr".into(),
        operation: "CopyObject",
        code: code.into(),
        message: message.into(),
    };
    for code in crate::error::ARCHIVED_OBJECT_CODES {
        let archived =
            DrError::ObjectArchived { bucket: "photos".into(), operation: "CopyObject", code: (*code).into() };
        assert!(matches!(not_copied(archived), Ok(Outcome::NotReplicable(NotCopyable::Archived(_)))));
    }
    let sse_c = failed(
        "InvalidRequest",
        "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
    );
    assert!(matches!(not_copied(sse_c), Ok(Outcome::NotReplicable(NotCopyable::CustomerKey))));
    assert!(matches!(not_copied(failed("PreconditionFailed", "")), Ok(Outcome::Skipped)));
    assert!(not_copied(failed("InvalidRequest", "Priority")).is_err());
    // Another encryption problem is a failure to fix, not an object to skip.
    assert!(not_copied(failed("InvalidRequest", "The encryption method specified is not supported")).is_err());
    let denied = DrError::AccessDenied { bucket: "b".into(), operation: "CopyObject", message: String::new() };
    assert_eq!(not_copied(denied.clone()).unwrap_err(), denied);
}
