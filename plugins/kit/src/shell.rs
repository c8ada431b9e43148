//! POSIX shell quoting: what a launcher script needs so that arguments with
//! spaces, quotes, `$`, backslashes and newlines reach the program unchanged.

/// Quotes `s` as one POSIX `sh` word. Single quotes keep everything literal,
/// newlines included; a single quote itself is closed, escaped and reopened.
pub fn quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-./=:,@%+".contains(&b)) {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Quotes each word and joins them with spaces.
pub fn quote_words<S: AsRef<str>>(words: &[S]) -> String {
    words.iter().map(|w| quote(w.as_ref())).collect::<Vec<_>>().join(" ")
}

/// Whether `name` can be an environment variable assigned from `sh`.
pub fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b == b'_' || b.is_ascii_alphabetic())
        && bytes.all(|b| b == b'_' || b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Runs `printf '%s\n' <quoted words>` through a real `sh` and returns the words it saw.
    fn through_sh(words: &[&str]) -> Vec<String> {
        let script = format!("for a in {}; do printf '%s\\0' \"$a\"; done", quote_words(words));
        let out = Command::new("sh").arg("-c").arg(script).output().expect("sh runs");
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        text.split_terminator('\0').map(str::to_owned).collect()
    }

    #[test]
    fn hostile_words_survive_a_real_shell() {
        let words = [
            "plain", "with space", "it's", "\"double\"", "$HOME", "`id`", "back\\slash",
            "line\nbreak", "", "*", "a;b", "-n", "~", "tab\there",
        ];
        assert_eq!(through_sh(&words), words);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        /// Any argv reaches the program unchanged (printable ASCII, which holds
        /// every shell metacharacter, plus tab, newline and non-ASCII).
        #[test]
        fn any_words_survive_a_real_shell(words in proptest::collection::vec("[\t\n -~é€😀]{0,12}", 1..5)) {
            let refs: Vec<&str> = words.iter().map(String::as_str).collect();
            proptest::prop_assert_eq!(through_sh(&refs), words);
        }
    }

    #[test]
    fn safe_words_stay_unquoted() {
        assert_eq!(quote("python3"), "python3");
        assert_eq!(quote("/nix/store/abc-x/bin/x"), "/nix/store/abc-x/bin/x");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn env_names() {
        assert!(is_env_name("PATH"));
        assert!(is_env_name("_x1"));
        assert!(!is_env_name("1x"));
        assert!(!is_env_name("A-B"));
        assert!(!is_env_name(""));
    }
}
