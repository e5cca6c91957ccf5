//! Progress while it runs: one bar over every planned run (hidden when
//! stderr is not a terminal), and log lines that always reach stderr.

use indicatif::{ProgressBar, ProgressStyle};

/// The run's progress display.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `steps` steps.
    pub fn new(steps: u64) -> Self {
        let bar = ProgressBar::new(steps);
        let style = ProgressStyle::with_template(
            "{elapsed_precise} [{bar:32.cyan/blue}] {pos}/{len} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        Progress { bar }
    }

    /// Says what is running now.
    pub fn doing(&self, what: String) {
        self.bar.set_message(what);
    }

    /// One step done.
    pub fn step(&self) {
        self.bar.inc(1);
    }

    /// `n` steps skipped (a peer that cannot run).
    pub fn skip(&self, n: u64) {
        self.bar.inc(n);
    }

    /// A line on stderr that does not garble the bar.
    pub fn log(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
