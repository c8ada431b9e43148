//! Exit codes, so that CI can tell "the output is out of date" from "the
//! run broke", and what broke (documented in the README):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (`--check`: up to date) |
//! | 1 | `--check` found the output out of date |
//! | 2 | usage: a bad argument (clap) |
//! | 3 | bad input: the deployment, its evaluation, an option name |
//! | 4 | a plugin failed: refused, trapped, over a limit, errors it reported, `--strict` |
//! | 5 | input/output: the output directory, the cache, files |

use std::fmt;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Input = 3,
    Plugin = 4,
    Io = 5,
}

/// An error with the exit code it ends the run with.
#[derive(Debug)]
struct Coded {
    failure: Failure,
    error: anyhow::Error,
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Coded {}

impl Failure {
    /// Marks `error` as this kind of failure (the first mark wins).
    pub fn of(self, error: anyhow::Error) -> anyhow::Error {
        if error.downcast_ref::<Coded>().is_some() {
            return error;
        }
        anyhow::Error::new(Coded { failure: self, error })
    }
}

/// Extension for `Result`: `.or_fail(Failure::Io)?`.
pub trait OrFail<T> {
    fn or_fail(self, failure: Failure) -> anyhow::Result<T>;
}

impl<T> OrFail<T> for anyhow::Result<T> {
    fn or_fail(self, failure: Failure) -> anyhow::Result<T> {
        self.map_err(|e| failure.of(e))
    }
}

/// The exit code of an error: its mark, or 3 (bad input) for an unmarked one.
pub fn code_of(error: &anyhow::Error) -> ExitCode {
    ExitCode::from(number_of(error))
}

/// The error a mark wraps (or `error` itself when unmarked), to find what
/// kind of error it is: `unmarked(e).downcast_ref::<RenderFailed>()`.
pub fn unmarked(error: &anyhow::Error) -> &anyhow::Error {
    error.downcast_ref::<Coded>().map_or(error, |c| &c.error)
}

/// [`code_of`] as a number, for the JSON output.
pub fn number_of(error: &anyhow::Error) -> u8 {
    error.downcast_ref::<Coded>().map_or(Failure::Input, |c| c.failure) as u8
}

/// `--check` found differences.
pub const DRIFT: u8 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_mark_wins_and_the_message_is_kept() {
        let e = Failure::Plugin.of(anyhow::anyhow!("plugin x: trap"));
        let e = Failure::Io.of(e);
        assert_eq!(format!("{e:#}"), "plugin x: trap");
        assert_eq!(code_of(&e), ExitCode::from(4));
        assert_eq!(code_of(&anyhow::anyhow!("unmarked")), ExitCode::from(3));
    }
}
