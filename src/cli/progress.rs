//! A progress bar for work on many buckets, drawn on standard error only when it is a terminal;
//! piped or in CI, the per-bucket lines on standard output are the whole story.

use std::future::Future;
use std::io::IsTerminal;

use futures::stream::{self, StreamExt};

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress(Option<ProgressBar>);

impl Progress {
    pub fn new(total: u64, what: &str) -> Progress {
        if total < 2 || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(&format!("{{bar:30}} {{pos}}/{{len}} {what} ({{elapsed}})")) {
            bar.set_style(style);
        }
        Progress(Some(bar))
    }

    pub fn advance(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }

    /// Print a line above the bar (or plainly without one).
    pub fn println(&self, line: &str) {
        match &self.0 {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// `run` for each bucket, `concurrency` at once, in the buckets' order, with a progress bar of
/// `what` (`status`'s reads, `verify`'s comparisons).
pub async fn each_bucket<'a, T, F, Fut>(
    buckets: &'a [String],
    concurrency: usize,
    what: &str,
    run: F,
) -> Vec<(String, T)>
where
    F: Fn(&'a String) -> Fut,
    Fut: Future<Output = T>,
{
    let progress = Progress::new(buckets.len() as u64, what);
    let results = stream::iter(buckets)
        .map(|bucket| {
            let (progress, run) = (&progress, &run);
            async move {
                let result = run(bucket).await;
                progress.advance();
                (bucket.clone(), result)
            }
        })
        .buffered(concurrency)
        .collect()
        .await;
    progress.finish();
    results
}
