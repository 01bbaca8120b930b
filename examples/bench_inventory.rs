//! `make bench`, part 5: the S3 Inventory comparison's time and peak memory as the reports grow,
//! and as the in-memory budget (S3DR_VERIFY_INVENTORY_ROWS) shrinks.
//!
//! The reports are written once, in S3's format (`s3_dr::inventory::fixture`), to a temporary
//! directory; each comparison then runs in a child process of its own (so its peak RSS,
//! VmHWM, is the comparison's alone), reading the data files from disk through the same code
//! the step runs on GetObject streams. Release build; each configuration runs 3 times, the
//! median printed. What it leaves out: the network (on AWS, GetObject in the report bucket's
//! region streams at tens of MB/s per file; the DR report is read from the DR region).
//!
//! Sizes: BENCH_INVENTORY_ROWS (default "1000000,2000000"), BENCH_INVENTORY_BUDGETS
//! (default "2000000,250000").

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use s3_dr::inventory::compare::{compare, Budget, Side};
use s3_dr::inventory::fixture::{iso, report, Object, SCHEMA};
use s3_dr::inventory::manifest::Manifest;

const REPEATS: usize = 3;
const TAKEN: i64 = 1_795_000_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 4 && args[1] == "compare" {
        return child(Path::new(&args[2]), args[3].parse().unwrap_or(1));
    }
    let sizes = list("BENCH_INVENTORY_ROWS", "1000000,2000000");
    let budgets = list("BENCH_INVENTORY_BUDGETS", "2000000,250000");
    println!("s3-dr inventory comparison benchmark: release build, reports read from local disk, median of {REPEATS}");
    println!(
        "reproduce: make bench   (BENCH_INVENTORY_ROWS={} BENCH_INVENTORY_BUDGETS={})\n",
        join(&sizes),
        join(&budgets)
    );
    println!(
        "{:>10} {:>12} {:>11} {:>8} {:>14} {:>10}",
        "ROWS/SIDE", "ROWS IN MEM", "PARTITIONS", "TIME", "ROWS/S (BOTH)", "PEAK RSS"
    );
    for rows in sizes {
        let dir = std::env::temp_dir().join(format!("s3-dr-bench-inventory-{}-{rows}", std::process::id()));
        write_reports(&dir, rows);
        for &budget in &budgets {
            let mut runs: Vec<(f64, u64, u64)> = (0..REPEATS).map(|_| run_child(&dir, budget)).collect();
            runs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (seconds, partitions, _) = runs[REPEATS / 2];
            let peak = runs.iter().map(|r| r.2).max().unwrap_or(0);
            println!(
                "{rows:>10} {budget:>12} {partitions:>11} {seconds:>7.2}s {:>14.0} {:>7} MB",
                2.0 * rows as f64 / seconds,
                peak / 1024
            );
        }
        let _ = fs::remove_dir_all(&dir);
    }
    println!("\nPEAK RSS is the largest of the {REPEATS} runs' VmHWM; the source side streams, so memory follows ROWS IN MEM, not ROWS/SIDE.");
}

fn list(name: &str, default: &str) -> Vec<u64> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect()
}

fn join(values: &[u64]) -> String {
    values.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

/// A source report of `rows` objects and a DR report missing one in a thousand.
fn write_reports(dir: &Path, rows: u64) {
    let started = Instant::now();
    let object = |i: u64, status: &'static str| Object {
        key: format!("data/{:02}/{i:010}.parquet", i % 97),
        size: i % 65_536,
        last_modified: iso(TAKEN - 86_400 - (i % 10_000) as i64),
        replication_status: status,
    };
    for (side, bucket, report) in [
        ("source", "bench", report("bench", TAKEN, SCHEMA, (0..rows).map(|i| object(i, "COMPLETED")), 250_000)),
        (
            "dr",
            "bench-dr",
            report(
                "bench-dr",
                TAKEN,
                SCHEMA,
                (0..rows).filter(|i| i % 1000 != 0).map(|i| object(i, "REPLICA")),
                250_000,
            ),
        ),
    ] {
        let root = dir.join(side);
        for (key, bytes) in &report.files {
            let path = root.join(key);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, bytes).unwrap();
        }
        fs::write(root.join("manifest.json"), &report.manifest).unwrap();
        let _ = bucket;
    }
    eprintln!("(reports of {rows} rows a side written in {:.1} s)", started.elapsed().as_secs_f64());
}

/// Runs one comparison in a child: (seconds, partitions, peak RSS in kB).
fn run_child(dir: &Path, budget: u64) -> (f64, u64, u64) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["compare", &dir.to_string_lossy(), &budget.to_string()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    (fields[0].parse().unwrap(), fields[1].parse().unwrap(), fields[2].parse().unwrap())
}

/// The child: compares the two reports under `dir`, prints "seconds partitions peak_kb".
fn child(dir: &Path, budget: usize) {
    let manifest = |side: &str, needs_status| {
        Manifest::parse(&fs::read(dir.join(side).join("manifest.json")).unwrap(), needs_status).unwrap()
    };
    let (source, dr) = (manifest("source", true), manifest("dr", false));
    let started = Instant::now();
    let outcome = compare(&source, &dr, Budget(budget), TAKEN, 21_600, None, |side, file| {
        let root: PathBuf = dir.join(if side == Side::Source { "source" } else { "dr" });
        fs::File::open(root.join(&file.key)).map(std::io::BufReader::new)
    })
    .unwrap_or_else(|e| panic!("{e:?}"));
    let seconds = started.elapsed().as_secs_f64();
    let c = outcome.tally.finish();
    assert!(outcome.complete && c.missing_in_dr == c.source_objects.div_ceil(1000), "{c:?}");
    let peak_kb = fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok()))
        .unwrap_or(0);
    println!("{seconds} {} {peak_kb}", outcome.partitions);
}
