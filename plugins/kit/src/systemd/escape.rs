//! Writing values into unit files the way systemd reads them back
//! (systemd.syntax(7), systemd.service(5) "Command lines").

/// Double-quotes `s` with C escapes; `%` (specifiers) always doubled.
/// `dollar`: also double `$`, which command lines expand and `Environment=` does not.
fn quoted(s: &str, dollar: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '%' => out.push_str("%%"),
            '$' if dollar => out.push_str("$$"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A command line for `ExecStart=` and friends: every word quoted, so no
/// word is split, expanded, or read as a prefix (`-`, `@`, `+`, …).
pub fn command_line<S: AsRef<str>>(words: &[S]) -> String {
    words.iter().map(|w| quoted(w.as_ref(), true)).collect::<Vec<_>>().join(" ")
}

/// One `Environment=` assignment.
pub fn assignment(name: &str, value: &str) -> String {
    quoted(&format!("{name}={value}"), false)
}

/// A free-text value (`Description=`): one line, specifiers escaped.
pub fn text(s: &str) -> String {
    s.replace('%', "%%").replace(['\n', '\r'], " ")
}

/// Whether `path` can stand in a space- or colon-separated path list
/// (`BindReadOnlyPaths=`, `StateDirectory=`, …) and in `WorkingDirectory=` as it is.
pub fn is_plain_path(path: &str) -> bool {
    !path.is_empty() && !path.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, ':' | '"' | '\'' | '\\' | '%' | '$'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_words_are_quoted_and_escaped() {
        assert_eq!(command_line(&["/bin/echo", "a b", "$HOME", "100%", "say \"hi\"", "back\\slash", "l1\nl2"]),
            r#""/bin/echo" "a b" "$$HOME" "100%%" "say \"hi\"" "back\\slash" "l1\nl2""#);
        assert_eq!(command_line(&["-x"]), r#""-x""#);
    }

    #[test]
    fn environment_keeps_dollars_and_escapes_specifiers() {
        assert_eq!(assignment("A", "$x 50% \"q\""), r#""A=$x 50%% \"q\"""#);
    }

    #[test]
    fn plain_paths() {
        assert!(is_plain_path("/var/lib/web"));
        assert!(!is_plain_path("/srv/my site"));
        assert!(!is_plain_path("/a:b"));
        assert!(!is_plain_path("/100%"));
    }
}
