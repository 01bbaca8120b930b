//! `s3-dr verify`: is the data in DR? The VerifyData step, run here for each bucket (the same
//! code the weekly verify workflow runs): both buckets listed (or their S3 Inventory reports
//! read) and compared, the result recorded
//! on the DR bucket (`status` shows it) and in the report bucket. Answers "if the source region
//! disappeared now, what would we lose, per bucket?".

use serde_json::json;

use crate::clients::Clients;
use crate::config::Config;
use crate::error::DrError;
use crate::steps::verify_data;
use crate::steps::StepContext;
use crate::verify::duration;

use super::progress::each_bucket;
use super::Output;

/// Buckets verified at once; each runs two listings at once.
const CONCURRENCY: usize = 4;

pub async fn run(
    clients: &Clients,
    config: &Config,
    buckets: &[String],
    every_bucket: bool,
    method: verify_data::Method,
    output: Output,
) -> Result<(), String> {
    let account_id = clients.account_id().await.ok();
    let context = StepContext { config, clients, account_id, dry_run: false, deadline: None };
    let context = &context;
    let results = each_bucket(buckets, CONCURRENCY, "buckets verified", |bucket| async move {
        verify_data::run(context, &json!({ "bucket": bucket, "method": method })).await
    })
    .await;

    let mut verified = Vec::new();
    let mut failures = Vec::new();
    for (bucket, result) in results {
        match result {
            Ok(found) => verified.push(found),
            // --all: the account's other buckets (unprotected, and the DR buckets) are not asked about.
            Err(DrError::NotProtected { .. }) if every_bucket => {}
            Err(error) => failures.push(format!("{bucket}: {}: {error}", error.error_type())),
        }
    }
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&verified).map_err(|e| e.to_string())?),
        Output::Table => print!("{}", table(&verified)),
    }
    failures.extend(
        verified
            .iter()
            .filter(|v| v.comparison.missing_in_dr > 0 || !v.complete)
            .map(|v| format!("{}: {}", v.bucket, v.summary)),
    );
    match failures.is_empty() {
        true => Ok(()),
        false => {
            Err(format!("{} bucket(s) not fully in DR or not verified:\n  {}", failures.len(), failures.join("\n  ")))
        }
    }
}

pub fn table(verified: &[verify_data::Output]) -> String {
    let header =
        ["BUCKET", "DR BUCKET", "OBJECTS", "MISSING IN DR", "BYTES MISSING", "IN FLIGHT", "RECOVERY POINT", "COMPLETE"];
    let rows: Vec<[String; 8]> = verified
        .iter()
        .map(|v| {
            let c = &v.comparison;
            let failed = match v.replication_status.failed {
                0 => String::new(),
                n => format!(" ({n} FAILED)"),
            };
            [
                v.bucket.clone(),
                format!("{} ({})", v.destination, v.destination_region),
                c.source_objects.to_string(),
                format!("{}{failed}", c.missing_in_dr),
                c.missing_bytes.to_string(),
                c.in_flight.to_string(),
                duration(v.recovery_point_seconds),
                if v.complete {
                    "yes".into()
                } else {
                    format!("no: stopped after {:?}", v.stopped_after.as_deref().unwrap_or(""))
                },
            ]
        })
        .collect();
    super::status::aligned(&header, &rows)
}
