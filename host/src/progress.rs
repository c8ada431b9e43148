//! Progress of the slow steps (compiling a plugin the first time, assembling
//! images and VM roots), on stderr. The CLI chooses once per run how it is
//! shown (`--progress`, `-q`, `--format json`); the library's slow steps only
//! say what they are doing. A process-wide setting, like a logger, so that
//! progress does not thread through every signature between the CLI and the
//! step that takes time.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Not at all (the default, and for a non-terminal stderr unless asked).
    Hidden,
    /// Spinners and bars redrawn in place: stderr is a terminal.
    Terminal,
    /// One line when a step starts and one when it ends: asked for on a
    /// stderr that is not a terminal (a CI log).
    Lines,
}

static DISPLAY: OnceLock<Display> = OnceLock::new();

/// Sets how progress is shown for the rest of the run (the first call wins).
pub fn configure(display: Display) {
    let _ = DISPLAY.set(display);
}

fn display() -> Display {
    *DISPLAY.get().unwrap_or(&Display::Hidden)
}

/// A step under way; it ends (its line cleared, or "done" written) when dropped.
pub struct Step {
    bar: Option<ProgressBar>,
    what: String,
    started: Instant,
    lines: bool,
}

/// Starts a step of unknown length, e.g. "compiling plugin compose".
pub fn step(what: impl Into<String>) -> Step {
    counted(what, 0)
}

/// Starts a step of `total` parts (images to assemble…); 0: unknown.
pub fn counted(what: impl Into<String>, total: u64) -> Step {
    let what = what.into();
    let started = Instant::now();
    match display() {
        Display::Hidden => Step { bar: None, what, started, lines: false },
        Display::Lines => {
            eprintln!("{what}…");
            Step { bar: None, what, started, lines: true }
        }
        Display::Terminal => {
            let bar = if total == 0 { ProgressBar::new_spinner() } else { ProgressBar::new(total) };
            bar.set_draw_target(ProgressDrawTarget::stderr());
            let template = if total == 0 { "{spinner} {msg} ({elapsed})" } else { "{spinner} {msg} [{bar:30}] {pos}/{len} ({elapsed})" };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(what.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            Step { bar: Some(bar), what, started, lines: false }
        }
    }
}

impl Step {
    /// `done` parts done, now working on `current` (e.g. the next image's name).
    pub fn at(&self, done: u64, current: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(format!("{}: {current}", self.what));
        } else if self.lines {
            eprintln!("{}: {current}", self.what);
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        } else if self.lines {
            eprintln!("{}: done in {:.1} s", self.what, self.started.elapsed().as_secs_f64());
        }
    }
}
