//! `s3-dr drill BUCKET [--sample N] [--seed S]`: a restore test. Picks N objects at random from
//! the source (so an object missing in DR fails the drill), reads each from the DR bucket and
//! from the source, and compares content (SHA-256 of the bytes, computed here), content type,
//! user metadata and tags. Prints pass/fail per object and how long the reads from the DR region
//! took. Reads only.
//!
//! AWS calls: GetBucketLocation and GetBucketReplication of the source; ListObjectsV2 of the
//! source (at most `S3DR_VERIFY_MAX_OBJECTS` objects, for the sample); per sampled object
//! GetObject and GetObjectTagging on both sides, 4 objects at once.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::stream::{self, StreamExt};
use sha2::{Digest, Sha256};

use crate::bucket;
use crate::clients::Clients;
use crate::config::Config;
use crate::error::{AwsResultExt, DrError};
use crate::replication::our_destination;

use super::status::aligned;

/// Objects read at once (each read on both sides).
const CONCURRENCY: usize = 4;

/// What one object's read looked like on one side.
#[derive(Debug, PartialEq)]
struct Read {
    sha256: String,
    size: u64,
    content_type: Option<String>,
    metadata: HashMap<String, String>,
    tags: Vec<(String, String)>,
}

struct Checked {
    key: String,
    size: u64,
    dr_read: Duration,
    verdict: Result<(), String>,
}

pub async fn run(
    clients: &Clients,
    config: &Config,
    source_bucket: &str,
    sample: usize,
    seed: Option<u64>,
) -> Result<(), String> {
    let home = clients.s3(&clients.home_region());
    let region = bucket::region(&home, source_bucket)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| DrError::SourceBucketNotFound { bucket: source_bucket.to_owned() }.to_string())?;
    let source = clients.s3(&region);
    let replication = bucket::replication(&source, source_bucket).await.map_err(|e| e.to_string())?;
    let destination = our_destination(replication.as_ref()).ok_or_else(|| {
        DrError::NotProtected { bucket: source_bucket.to_owned(), match_tag: config.match_tag.to_string() }.to_string()
    })?;
    let dr = clients.s3(&config.dr_region);

    let seed = seed.unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64));
    let keys = sample_keys(&source, source_bucket, sample, config.verify_max_objects, seed)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "{source_bucket}: drill of {} object(s) read from {destination} ({}), seed {seed}",
        keys.len(),
        config.dr_region
    );
    let started = Instant::now();
    let checked: Vec<Checked> = stream::iter(keys)
        .map(|key| {
            let (source, dr, destination) = (&source, &dr, destination.as_str());
            async move { check(source, source_bucket, dr, destination, key).await }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let wall = started.elapsed();

    let header = ["KEY", "SIZE", "DR READ", "RESULT"];
    let rows: Vec<[String; 4]> = checked
        .iter()
        .map(|c| {
            [
                c.key.clone(),
                c.size.to_string(),
                format!("{} ms", c.dr_read.as_millis()),
                match &c.verdict {
                    Ok(()) => "pass".into(),
                    Err(why) => format!("FAIL: {why}"),
                },
            ]
        })
        .collect();
    print!("{}", aligned(&header, &rows));
    let failed = checked.iter().filter(|c| c.verdict.is_err()).count();
    let mut reads: Vec<Duration> = checked.iter().map(|c| c.dr_read).collect();
    reads.sort();
    let median = reads.get(reads.len() / 2).copied().unwrap_or_default();
    let bytes: u64 = checked.iter().map(|c| c.size).sum();
    println!(
        "{source_bucket}: {} of {} passed; {bytes} bytes read from DR in {:.2} s ({CONCURRENCY} at once), median read {} ms",
        checked.len() - failed,
        checked.len(),
        wall.as_secs_f64(),
        median.as_millis()
    );
    match failed {
        0 => Ok(()),
        n => Err(format!(
            "{source_bucket}: {n} of {} sampled objects do not restore as they are in the source",
            checked.len()
        )),
    }
}

/// Up to `sample` keys chosen uniformly from the first `limit` objects of the listing
/// (reservoir sampling: one pass, `sample` keys in memory).
async fn sample_keys(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    sample: usize,
    limit: u64,
    seed: u64,
) -> Result<Vec<String>, DrError> {
    let mut random = XorShift(seed.max(1));
    let mut chosen: Vec<String> = Vec::with_capacity(sample);
    let mut seen: u64 = 0;
    let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        for object in page.aws(bucket, "ListObjectsV2")?.contents() {
            let Some(key) = object.key() else { continue };
            if seen >= limit {
                return Ok(chosen);
            }
            seen += 1;
            if chosen.len() < sample {
                chosen.push(key.to_owned());
            } else if let Some(slot) = usize::try_from(random.below(seen)).ok().filter(|s| *s < sample) {
                chosen[slot] = key.to_owned();
            }
        }
    }
    chosen.sort();
    Ok(chosen)
}

async fn check(
    source: &aws_sdk_s3::Client,
    source_bucket: &str,
    dr: &aws_sdk_s3::Client,
    destination: &str,
    key: String,
) -> Checked {
    let started = Instant::now();
    let in_dr = read(dr, destination, &key).await;
    let dr_read = started.elapsed();
    let in_source = read(source, source_bucket, &key).await;
    let size = in_dr.as_ref().map_or(0, |r| r.size);
    let verdict = match (in_source, in_dr) {
        (_, Err(why)) => Err(format!("DR: {why}")),
        (Err(why), _) => Err(format!("source: {why}")),
        (Ok(source), Ok(dr)) => compare(&source, &dr),
    };
    Checked { key, size, dr_read, verdict }
}

fn compare(source: &Read, dr: &Read) -> Result<(), String> {
    let mut differs = Vec::new();
    if source.sha256 != dr.sha256 || source.size != dr.size {
        differs.push(format!("content ({} bytes vs {} in DR)", source.size, dr.size));
    }
    if source.content_type != dr.content_type {
        differs.push(format!("content type ({:?} vs {:?})", source.content_type, dr.content_type));
    }
    if source.metadata != dr.metadata {
        differs.push("user metadata".to_owned());
    }
    if source.tags != dr.tags {
        differs.push("tags".to_owned());
    }
    match differs.is_empty() {
        true => Ok(()),
        false => Err(format!("differs: {}", differs.join(", "))),
    }
}

async fn read(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Read, String> {
    let object =
        s3.get_object().bucket(bucket).key(key).send().await.aws(bucket, "GetObject").map_err(|e| match &e {
            DrError::AwsRequestFailed { code, .. } if code == "NoSuchKey" => "missing".to_owned(),
            _ => e.to_string(),
        })?;
    let content_type = object.content_type().map(str::to_owned);
    let metadata = object.metadata().cloned().unwrap_or_default();
    let mut body = object.body;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = body.try_next().await.map_err(|e| format!("reading the body: {e}"))? {
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    let sha256 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let tagging = s3
        .get_object_tagging()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .aws(bucket, "GetObjectTagging")
        .map_err(|e| e.to_string())?;
    let mut tags: Vec<(String, String)> =
        tagging.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
    tags.sort();
    Ok(Read { sha256, size, content_type, metadata, tags })
}

/// A small seeded generator: the sample differs run to run, and `--seed` repeats one.
struct XorShift(u64);

impl XorShift {
    /// A number in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(content: &str) -> Read {
        Read {
            sha256: content.to_owned(),
            size: content.len() as u64,
            content_type: Some("text/plain".into()),
            metadata: HashMap::from([("team".to_owned(), "media".to_owned())]),
            tags: vec![("k".into(), "v".into())],
        }
    }

    #[test]
    fn each_difference_is_named() {
        assert_eq!(compare(&read("abc"), &read("abc")), Ok(()));
        let mut other = read("abd");
        other.content_type = None;
        other.tags.clear();
        assert_eq!(
            compare(&read("abc"), &other),
            Err("differs: content (3 bytes vs 3 in DR), content type (Some(\"text/plain\") vs None), tags".to_owned())
        );
        let mut metadata = read("abc");
        metadata.metadata.clear();
        assert_eq!(compare(&read("abc"), &metadata), Err("differs: user metadata".to_owned()));
    }

    #[test]
    fn the_generator_stays_below_its_bound_and_repeats_with_its_seed() {
        let (mut a, mut b) = (XorShift(42), XorShift(42));
        let drawn: Vec<u64> = (0..1000).map(|_| a.below(10)).collect();
        assert!(drawn.iter().all(|n| *n < 10));
        assert_eq!(drawn, (0..1000).map(|_| b.below(10)).collect::<Vec<_>>());
        // Every value comes up: the sample is not stuck on a few keys.
        assert!((0..10).all(|v| drawn.contains(&v)));
    }
}
