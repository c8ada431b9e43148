//! Everything goes to the console (the kernel gives PID 1 `/dev/console` as
//! stdout and stderr; `run-vm` shows it and keeps it in `console.log`).

use std::io::{BufRead, BufReader, Read, Write};

pub fn info(message: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr().lock(), "nix2dream-init: {message}");
}

/// Copies `reader` to the console line by line, each line prefixed with
/// `label` so that interleaved services stay readable.
pub fn forward(label: String, reader: impl Read + Send + 'static) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        let mut line = Vec::new();
        while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            let text = String::from_utf8_lossy(&line);
            let _ = writeln!(std::io::stderr().lock(), "{label}: {}", text.trim_end_matches('\n'));
            line.clear();
        }
    });
}
