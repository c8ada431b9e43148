//! The one function a plugin may import (`host.report`, contract 0.4.0): a
//! message for the user — a panic message, an exception — kept bounded and
//! shown, escaped, when the call fails. Without it a crash said only "the
//! plugin panicked".

/// At most this much of what a plugin reports is kept, per call.
pub const MAX_REPORT_BYTES: usize = 16 << 10;

/// What a plugin's store holds: the memory cap the limiter enforces, and
/// what the plugin reported during the call.
pub struct StoreData {
    pub cap: super::limits::MemoryCap,
    pub reports: Reports,
}

#[derive(Default)]
pub struct Reports {
    text: String,
    truncated: bool,
}

impl Reports {
    /// Keeps `message`, up to the bound (cut at a character boundary).
    pub fn add(&mut self, message: &str) {
        if !self.text.is_empty() && self.text.len() < MAX_REPORT_BYTES {
            self.text.push('\n');
        }
        let room = MAX_REPORT_BYTES.saturating_sub(self.text.len());
        if message.len() <= room {
            self.text.push_str(message);
        } else {
            let mut end = room;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            self.text.push_str(&message[..end]);
            self.truncated = true;
        }
    }

    /// What was reported, terminal-safe, or None.
    pub fn shown(&self) -> Option<String> {
        if self.text.trim().is_empty() {
            return None;
        }
        let more = if self.truncated { format!(" … (cut at {} KiB)", MAX_REPORT_BYTES >> 10) } else { String::new() };
        Some(format!("{}{more}", crate::text::printable(self.text.trim_end())))
    }
}

impl super::wit::since_v0_4_0::nix2dream::manager::host::Host for StoreData {
    fn report(&mut self, message: String) {
        self.reports.add(&message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_bounded_and_escaped() {
        let mut r = Reports::default();
        assert_eq!(r.shown(), None);
        r.add("panicked at src/lib.rs:3:5:\nboom \u{1b}[31m");
        assert_eq!(r.shown().unwrap(), "panicked at src/lib.rs:3:5:\nboom \\u{1b}[31m");
        r.add(&"é".repeat(MAX_REPORT_BYTES));
        let shown = r.shown().unwrap();
        assert!(shown.ends_with("(cut at 16 KiB)") && shown.len() < MAX_REPORT_BYTES + 100, "{}", shown.len());
    }
}
