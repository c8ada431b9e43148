//! Nix's stderr made readable: the message with file, line and code frame,
//! without colours and noise; failed assertions as a list; warnings.

use anyhow::anyhow;

use super::locate::{NixpkgsSource, HOW_TO_PROVIDE_NIXPKGS};

/// The error for a failed nix-instantiate run on `what`.
pub(super) fn nix_failure(what: &str, stderr: &str, nixpkgs: &NixpkgsSource) -> anyhow::Error {
    if let Some(failed) = failed_assertions(stderr) {
        let n = failed.len();
        let list: String = failed.iter().map(|m| format!("\n- {m}")).collect();
        return anyhow!(
            "{what}: {n} failed assertion{}:{list}",
            if n == 1 { "" } else { "s" }
        );
    }
    let msg = clean_nix_error(stderr);
    if msg.contains("was not found in the Nix search path") && msg.contains("'nixpkgs") {
        return anyhow!(
            "evaluating {what}: nixpkgs {nixpkgs} could not be used: {}\n{HOW_TO_PROVIDE_NIXPKGS}",
            first_line(&msg)
        );
    }
    anyhow!("evaluating {what} failed:\n{msg}")
}

pub(super) fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("").trim()
}

/// Remove ANSI colour sequences.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

fn is_noise(line: &str) -> bool {
    let t = line.trim();
    t.starts_with("(use '--show-trace'")
        || t.starts_with("trace: ")
        || t.starts_with("evaluation warning: ")
        || (t.starts_with("warning: ") && t.contains("build-users-group"))
        || (t.starts_with("warning: the group") && t.contains("does not exist"))
}

/// Nix's error message without noise: colours, trace and warning lines, the
/// `--show-trace` hint, the leading `error: ` and its 7-space indentation.
/// File, line and code frame are kept.
pub fn clean_nix_error(stderr: &str) -> String {
    let text = strip_ansi(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !is_noise(l)).collect();
    let mut out = Vec::with_capacity(lines.len());
    for l in lines {
        let l = l.trim_end();
        if let Some(rest) = l.strip_prefix("error: ") {
            out.push(rest.to_string());
        } else if l == "error:" {
            continue;
        } else if let Some(rest) = l.strip_prefix("       ") {
            out.push(rest.to_string());
        } else {
            out.push(l.to_string());
        }
    }
    // Drop blank lines at both ends and runs of blank lines.
    let mut cleaned: Vec<String> = Vec::new();
    for l in out {
        if l.trim().is_empty() && cleaned.last().is_none_or(|p: &String| p.trim().is_empty()) {
            continue;
        }
        cleaned.push(l);
    }
    while cleaned.last().is_some_and(|l| l.trim().is_empty()) {
        cleaned.pop();
    }
    cleaned.join("\n")
}

/// The messages of the failed assertions, when the error is the
/// "Failed assertions:" list thrown by `evalServices`.
pub fn failed_assertions(stderr: &str) -> Option<Vec<String>> {
    let text = clean_nix_error(stderr);
    let mut lines = text.lines();
    lines.find(|l| l.trim() == "Failed assertions:")?;
    let mut items: Vec<String> = Vec::new();
    for l in lines {
        let t = l.trim();
        if let Some(m) = t.strip_prefix("- ") {
            items.push(m.to_string());
        } else if t.is_empty() {
            continue;
        } else if let Some(last) = items.last_mut() {
            last.push('\n');
            last.push_str(t);
        }
    }
    Some(items)
}

/// The warnings in nix-instantiate's stderr (`builtins.trace` lines).
pub fn nix_warnings(stderr: &str) -> Vec<String> {
    strip_ansi(stderr)
        .lines()
        .filter_map(|l| {
            let l = l.trim_end();
            l.strip_prefix("trace: ")
                .or_else(|| l.strip_prefix("evaluation warning: "))
                .map(|w| w.strip_prefix("warning: ").unwrap_or(w).to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const ASSERTION_STDERR: &str = "error:\n       Failed assertions:\n       - services.a.process.argv: must not be empty (defined in `/tmp/x/services.nix').\n       - services.a.dependsOn.zz: there is no service \"zz\" (services: a, b).\n(use '--show-trace' to show detailed location information)\n";

    const SYNTAX_STDERR: &str = "warning: the group 'nixbld' specified in 'build-users-group' does not exist\nerror: syntax error, unexpected '=', expecting ';'\n\n       at /tmp/n2d/syn.nix:3:12:\n\n            2|   name = \"x\"\n            3|   services = {};\n             |            ^\n            4| }\n(use '--show-trace' to show detailed location information)\n";

    #[test]
    fn clean_keeps_message_location_and_frame() {
        let c = clean_nix_error(SYNTAX_STDERR);
        assert_eq!(
            c,
            "syntax error, unexpected '=', expecting ';'\n\nat /tmp/n2d/syn.nix:3:12:\n\n     2|   name = \"x\"\n     3|   services = {};\n      |            ^\n     4| }"
        );
    }

    #[test]
    fn clean_strips_ansi_and_traces() {
        let s = "trace: warning: something\n\u{1b}[31;1merror:\u{1b}[0m undefined variable '\u{1b}[35;1mfoo\u{1b}[0m'\n";
        assert_eq!(clean_nix_error(s), "undefined variable 'foo'");
    }

    #[test]
    fn assertions_are_listed() {
        let failed = failed_assertions(ASSERTION_STDERR).unwrap();
        assert_eq!(
            failed,
            vec![
                "services.a.process.argv: must not be empty (defined in `/tmp/x/services.nix').",
                "services.a.dependsOn.zz: there is no service \"zz\" (services: a, b).",
            ]
        );
        assert!(failed_assertions(SYNTAX_STDERR).is_none());
    }

    #[test]
    fn assertion_failure_error_lists_all() {
        let n = NixpkgsSource::Flag(PathBuf::from("/np"));
        let e = nix_failure("services.nix", ASSERTION_STDERR, &n).to_string();
        assert!(
            e.starts_with("services.nix: 2 failed assertions:\n- services.a.process.argv"),
            "{e}"
        );
        assert!(e.contains("\n- services.a.dependsOn.zz"), "{e}");
    }

    #[test]
    fn evaluation_error_keeps_file_and_line() {
        let n = NixpkgsSource::Flag(PathBuf::from("/np"));
        let e = nix_failure("services.nix", SYNTAX_STDERR, &n).to_string();
        assert!(
            e.starts_with("evaluating services.nix failed:\nsyntax error"),
            "{e}"
        );
        assert!(e.contains("/tmp/n2d/syn.nix:3:12"), "{e}");
        assert!(!e.contains("show-trace"), "{e}");
        assert!(!e.contains("nixbld"), "{e}");
    }

    #[test]
    fn missing_nixpkgs_says_how_to_provide_it() {
        let n = NixpkgsSource::EnvVar(PathBuf::from("/np"));
        let stderr = "error: file 'nixpkgs/lib' was not found in the Nix search path (add it using $NIX_PATH or -I)\n";
        let e = nix_failure("services.nix", stderr, &n).to_string();
        assert!(e.contains("--nixpkgs PATH"), "{e}");
        assert!(e.contains("NIX2DREAM_NIXPKGS"), "{e}");
        assert!(e.contains("NIX_PATH"), "{e}");
    }

    #[test]
    fn warnings_are_collected() {
        let s = "trace: warning: getExe: Package hello does not have meta.mainProgram\nevaluation warning: old thing\nerror: x\n";
        assert_eq!(
            nix_warnings(s),
            vec![
                "getExe: Package hello does not have meta.mainProgram",
                "old thing"
            ]
        );
    }
}
