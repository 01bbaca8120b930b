//! An inventory report's `manifest.json`, as S3 documents it
//! (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html,
//! "Inventory manifest"): the data files with their sizes and MD5s, the format, and the
//! `fileSchema` that names the CSV columns in order.

use serde::Deserialize;

/// What is wrong with a report (the step names the file it came from).
pub type Invalid = String;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub source_bucket: String,
    /// When S3 began scanning the bucket for this report (Unix seconds).
    pub taken_at: i64,
    pub schema: Schema,
    pub files: Vec<DataFile>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    pub key: String,
    /// Bytes of the compressed file.
    pub size: u64,
    /// Hex MD5 of the compressed file.
    pub md5: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    source_bucket: String,
    /// Milliseconds since the epoch, as a string.
    creation_timestamp: String,
    file_format: String,
    file_schema: String,
    files: Vec<RawFile>,
}

#[derive(Deserialize)]
struct RawFile {
    key: String,
    size: u64,
    #[serde(rename = "MD5checksum")]
    md5_checksum: String,
}

/// Which CSV column holds each field the comparison reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    pub columns: usize,
    pub key: usize,
    pub size: usize,
    pub last_modified: usize,
    /// Needed on the source side (why an object is missing); DR's replicas say REPLICA.
    pub replication_status: Option<usize>,
    /// Present when the inventory lists all versions: only the latest, not delete markers, count.
    pub is_latest: Option<usize>,
    pub is_delete_marker: Option<usize>,
}

impl Schema {
    /// The columns `fileSchema` names ("Bucket, Key, Size, ..."), or what a needed one lacks.
    pub fn parse(file_schema: &str, needs_replication_status: bool) -> Result<Schema, Invalid> {
        let names: Vec<&str> = file_schema.split(',').map(str::trim).collect();
        let find = |name: &str| names.iter().position(|n| *n == name);
        let need = |name: &str| {
            find(name).ok_or_else(|| {
                format!("its fileSchema ({file_schema:?}) has no {name} field, which the comparison needs; the s3-dr inventory configuration asks for it, so the report comes from another configuration")
            })
        };
        let replication_status =
            if needs_replication_status { Some(need("ReplicationStatus")?) } else { find("ReplicationStatus") };
        Ok(Schema {
            columns: names.len(),
            key: need("Key")?,
            size: need("Size")?,
            last_modified: need("LastModifiedDate")?,
            replication_status,
            is_latest: find("IsLatest"),
            is_delete_marker: find("IsDeleteMarker"),
        })
    }
}

impl Manifest {
    /// `manifest.json`'s bytes. Only CSV is read: s3-dr configures CSV, and a Parquet or ORC
    /// report comes from another configuration.
    pub fn parse(bytes: &[u8], needs_replication_status: bool) -> Result<Manifest, Invalid> {
        let raw: Raw =
            serde_json::from_slice(bytes).map_err(|e| format!("its manifest.json is not a manifest: {e}"))?;
        if raw.file_format != "CSV" {
            return Err(format!(
                "its format is {}; s3-dr reads CSV reports (the format its inventory configuration sets)",
                raw.file_format
            ));
        }
        let millis: i64 = raw
            .creation_timestamp
            .parse()
            .map_err(|_| format!("its creationTimestamp {:?} is not milliseconds", raw.creation_timestamp))?;
        if let Some(file) = raw.files.iter().find(|f| !is_md5_hex(&f.md5_checksum)) {
            return Err(format!("its MD5checksum of {} is not an MD5 ({:?})", file.key, file.md5_checksum));
        }
        Ok(Manifest {
            source_bucket: raw.source_bucket,
            taken_at: millis.div_euclid(1000),
            schema: Schema::parse(&raw.file_schema, needs_replication_status)?,
            files: raw
                .files
                .into_iter()
                .map(|f| DataFile { key: f.key, size: f.size, md5: f.md5_checksum.to_ascii_lowercase() })
                .collect(),
        })
    }
}

fn is_md5_hex(value: &str) -> bool {
    value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The report folders' timestamps sort as text: `2026-11-26T01-00Z`. True for a folder name of
/// that shape (the prefix also holds `data/` and `hive/`).
pub fn is_report_folder(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 17
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b'-'
        && b[16] == b'Z'
        && [0..4, 5..7, 8..10, 11..13, 14..16].into_iter().all(|r| b[r].iter().all(u8::is_ascii_digit))
}
