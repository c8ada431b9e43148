//! Text from outside (plugins, the deployment, file names) as it may reach
//! the terminal: control characters, which could move the cursor, rewrite
//! lines or set the window title (ESC, CR, OSC sequences), are shown escaped.

/// `s` with every control character but newline and tab escaped.
pub fn printable(s: &str) -> String {
    s.chars().map(|c| if c.is_control() && c != '\n' && c != '\t' { c.escape_default().to_string() } else { c.to_string() }).collect()
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn outside_text_cannot_drive_the_terminal() {
        assert_eq!(printable("ok\u{1b}[2K\rfake line\nnext\tcol"), "ok\\u{1b}[2K\\rfake line\nnext\tcol");
        assert_eq!(printable("\u{1b}]0;title\u{7}"), "\\u{1b}]0;title\\u{7}");
        assert_eq!(printable("plain ünïcode"), "plain ünïcode");
    }
}
