//! Inventory reports written in S3's documented format (manifest.json and gzip'd CSV data
//! files, every field quoted, keys URL-encoded), for the tests and the benchmark: locally
//! nothing delivers inventories, so they write what S3 would.

use std::io::Write;

use md5::{Digest, Md5};

use super::{reports_prefix, INVENTORY_PREFIX};

/// One object as a report lists it.
#[derive(Debug, Clone)]
pub struct Object {
    pub key: String,
    pub size: u64,
    /// `2026-11-26T20:30:15.000Z`.
    pub last_modified: String,
    pub replication_status: &'static str,
}

/// A report: its manifest's key and bytes, and its data files'. `manifest.checksum` (the MD5 of
/// the manifest, which S3 writes last) is [`Report::checksum`] at [`Report::checksum_key`].
#[derive(Debug, Clone)]
pub struct Report {
    pub manifest_key: String,
    pub manifest: Vec<u8>,
    pub files: Vec<(String, Vec<u8>)>,
}

impl Report {
    pub fn checksum_key(&self) -> String {
        self.manifest_key.replace("manifest.json", "manifest.checksum")
    }

    pub fn checksum(&self) -> Vec<u8> {
        let hex: String = Md5::digest(&self.manifest).iter().map(|b| format!("{b:02x}")).collect();
        format!("{hex}\n").into_bytes()
    }
}

/// The schema s3-dr's configuration produces (Bucket and Key first, then the optional fields).
pub const SCHEMA: &[&str] = &["Bucket", "Key", "Size", "LastModifiedDate", "ReplicationStatus"];

/// `bucket`'s report taken at `taken_at` (Unix seconds), `rows_per_file` objects a data file,
/// with the columns of `schema` (any of Bucket, Key, Size, LastModifiedDate,
/// ReplicationStatus, IsLatest, IsDeleteMarker; others are written empty).
pub fn report(
    bucket: &str,
    taken_at: i64,
    schema: &[&str],
    objects: impl IntoIterator<Item = Object>,
    rows_per_file: usize,
) -> Report {
    let folder = format!("{}{}/", reports_prefix(bucket), folder_name(taken_at));
    let mut files = Vec::new();
    let mut writer: Option<csv::Writer<flate2::write::GzEncoder<Vec<u8>>>> = None;
    let mut rows = 0usize;
    let finish = |writer: csv::Writer<flate2::write::GzEncoder<Vec<u8>>>, files: &mut Vec<(String, Vec<u8>)>| {
        let gz = writer.into_inner().map_err(|e| e.to_string()).and_then(|gz| gz.finish().map_err(|e| e.to_string()));
        let bytes = gz.unwrap_or_default();
        // S3 names data files by UUID: unique across reports.
        files.push((format!("{INVENTORY_PREFIX}/{bucket}/s3-dr/data/{taken_at}-{:04}.csv.gz", files.len()), bytes));
    };
    for object in objects {
        let csv = writer.get_or_insert_with(|| {
            csv::WriterBuilder::new()
                .quote_style(csv::QuoteStyle::Always)
                .from_writer(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()))
        });
        let key = percent_encoding::utf8_percent_encode(&object.key, KEY_ENCODING).to_string().replace("%20", "+");
        let size = object.size.to_string();
        let record: Vec<&str> = schema
            .iter()
            .map(|column| match *column {
                "Bucket" => bucket,
                "Key" => key.as_str(),
                "Size" => size.as_str(),
                "LastModifiedDate" => object.last_modified.as_str(),
                "ReplicationStatus" => object.replication_status,
                "IsLatest" => "true",
                "IsDeleteMarker" => "false",
                _ => "",
            })
            .collect();
        let _ = csv.write_record(&record);
        rows += 1;
        if rows.is_multiple_of(rows_per_file.max(1)) {
            if let Some(full) = writer.take() {
                finish(full, &mut files);
            }
        }
    }
    if let Some(last) = writer.take() {
        finish(last, &mut files);
    }
    let manifest = manifest(bucket, taken_at, schema, &files);
    Report { manifest_key: format!("{folder}manifest.json"), manifest, files }
}

/// The manifest of `files` as S3 writes it.
pub fn manifest(bucket: &str, taken_at: i64, schema: &[&str], files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|(key, bytes)| {
            let md5: String = Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
            serde_json::json!({"key": key, "size": bytes.len(), "MD5checksum": md5})
        })
        .collect();
    let manifest = serde_json::json!({
        "sourceBucket": bucket,
        "destinationBucket": "arn:aws:s3:::s3-dr-reports",
        "version": "2016-11-30",
        "creationTimestamp": (taken_at * 1000).to_string(),
        "fileFormat": "CSV",
        "fileSchema": schema.join(", "),
        "files": files,
    });
    let mut bytes = Vec::new();
    let _ = bytes.write_all(manifest.to_string().as_bytes());
    bytes
}

/// `2026-11-26T01-00Z`, the report folder of a scan begun at `taken_at`.
pub fn folder_name(taken_at: i64) -> String {
    let stamp =
        crate::clock::minute_stamp(std::time::UNIX_EPOCH + std::time::Duration::from_secs(taken_at.max(0) as u64));
    // minute_stamp is `20261126T0100`.
    format!("{}-{}-{}T{}-{}Z", &stamp[0..4], &stamp[4..6], &stamp[6..8], &stamp[9..11], &stamp[11..13])
}

/// An ISO 8601 time as the reports write it.
pub fn iso(seconds: i64) -> String {
    let stamp =
        crate::clock::second_stamp(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds.max(0) as u64));
    format!(
        "{}-{}-{}T{}:{}:{}.000Z",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    )
}

/// URL encoding as the reports' keys have it (a space is `+`, as form encoding writes it).
const KEY_ENCODING: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');
