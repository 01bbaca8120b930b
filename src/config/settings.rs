//! Every `S3DR_*` variable the Lambda reads, with its default and meaning: what `s3-dr config
//! check` knows, and what README's configuration table lists (tests/readme.rs).

use super::{
    DEFAULT_BATCH_REPORT_PREFIX, DEFAULT_DR_KMS_KEY, DEFAULT_DR_REGION, DEFAULT_MATCH_TAG, DEFAULT_STORAGE_CLASS,
    DEFAULT_SUFFIX,
};

/// One row per setting: (variable, default, meaning). README's configuration table mirrors it.
pub const SETTINGS: &[(&str, &str, &str)] = &[
    ("S3DR_DR_REGION", DEFAULT_DR_REGION, "region that holds the destination buckets"),
    ("S3DR_DESTINATION_SUFFIX", DEFAULT_SUFFIX, "destination name = source name + suffix"),
    ("S3DR_MATCH_TAG", DEFAULT_MATCH_TAG, "KEY=VALUE tag that requests protection (case-insensitive)"),
    ("S3DR_REPLICATION_ROLE_ARN", "(required by EnableReplication)", "IAM role S3 assumes to replicate"),
    ("S3DR_STORAGE_CLASS", DEFAULT_STORAGE_CLASS, "storage class of the replicas"),
    (
        "S3DR_DR_KMS_KEY",
        DEFAULT_DR_KMS_KEY,
        "customer-managed key (ARN, id or alias) in the DR region for SSE-KMS objects",
    ),
    ("S3DR_RTC", "false", "Replication Time Control (15-minute SLA) and replication metrics"),
    ("S3DR_PUBLIC_ACCESS", "block-all", "destination public access block: block-all, or same-as-source"),
    ("S3DR_BACKFILL", "batch", "how existing objects are copied: batch (S3 Batch Replication), copy, or off"),
    ("S3DR_BATCH_ROLE_ARN", "(required by batch)", "IAM role S3 Batch Operations assumes"),
    (
        "S3DR_BATCH_REPORT_BUCKET",
        "(required by batch)",
        "bucket for job reports; {region} becomes the source region, {account} the account id",
    ),
    ("S3DR_BATCH_REPORT_PREFIX", DEFAULT_BATCH_REPORT_PREFIX, "key prefix of the job reports"),
    ("S3DR_COPY_MULTIPART_THRESHOLD", "5368709120", "copy backfill: objects of this size or more are copied in parts"),
    ("S3DR_COPY_PAGE_SIZE", "1000", "copy backfill: objects per invocation (1 to 1000)"),
    ("S3DR_COPY_CONCURRENCY", "16", "copy backfill: copies in flight (1 to 64)"),
    ("S3DR_COPY_PAGE_BYTES", "53687091200", "copy backfill: bytes per invocation (at least one object)"),
    (
        "S3DR_RESERVED_CONCURRENCY",
        "0",
        "the step Lambda's reserved concurrency (0: none or unknown); a copy is split into at most half as many shards (the CDK stack sets it)",
    ),
    (
        "S3DR_COPY_SHARDS",
        "1",
        "copy backfill: a bucket of more than one page is split into this many key ranges, copied by Lambdas at once (1 to 16)",
    ),
    ("S3DR_HISTORY_EVENT_BUDGET", "20000", "history events an execution may use before the backfill hands over"),
    ("S3DR_STEP_ROLE_ARN", "(none)", "the step Lambda's own role: CloudTrail events it caused are ignored"),
    ("S3DR_PROTECT_STATE_MACHINE_ARN", "(required by Sweep)", "the protect workflow, which the sweep starts"),
    ("S3DR_DETACH_STATE_MACHINE_ARN", "(required by Sweep, StartDetach)", "the detach workflow"),
    (
        "S3DR_VERIFY_STATE_MACHINE_ARN",
        "(none: no scheduled verification)",
        "the verify workflow, which the sweep starts for each protected bucket once a week",
    ),
    (
        "S3DR_VERIFY_THRESHOLD_SECONDS",
        "900 with S3DR_RTC, else 21600",
        "verify: an object absent from DR and younger than this is in flight, not missing (0 to 604800)",
    ),
    ("S3DR_VERIFY_MAX_OBJECTS", "1000000", "verify: objects listed per bucket per run (1 to 100000000)"),
    (
        "S3DR_VERIFY_INVENTORY_ROWS",
        "2000000",
        "verify: DR inventory rows held in memory at once (up to about 100 bytes each at peak; 1 to 100000000)",
    ),
    ("S3DR_SWEEP_CONCURRENCY", "16", "sweep: buckets read at once, per shard (1 to 64)"),
    ("S3DR_SWEEP_SHARDS", "4", "sweep: shards run at once, buckets dealt by a hash of their name (1 to 40)"),
    ("S3DR_SWEEP_PAGE_SIZE", "1000", "sweep: buckets per ListBuckets page (1 to 10000)"),
    (
        "S3DR_SWEEP_INVOCATION_SECONDS",
        "600",
        "sweep: seconds an invocation starts new pages for before it hands its cursor to the next (0 to 840; 0: one page each)",
    ),
    (
        "S3DR_SWEEP_START_RATE",
        "2",
        "sweep: executions started per second at most (1 to 50): each runs the step Lambda, whose concurrency is reserved",
    ),
];
