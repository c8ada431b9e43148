//! HTTP probes (command probes are processes the supervisor spawns and
//! reaps like any other).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// GET `http://127.0.0.1:<port><path>`: healthy on a 2xx or 3xx status.
pub fn http_ok(port: u16, path: &str, timeout: Duration) -> bool {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&address, timeout) else { return false };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: nix2dream-vm-init\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    let mut read = 0;
    while read < head.len() {
        match stream.read(&mut head[read..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
    status_ok(&head[..read])
}

/// Whether a response starting with `head` ("HTTP/1.1 200") has a 2xx/3xx status.
fn status_ok(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let mut words = text.split(' ');
    matches!((words.next(), words.next()), (Some(v), Some(code)) if v.starts_with("HTTP/") && code.len() == 3 && (code.starts_with('2') || code.starts_with('3')))
}

#[cfg(test)]
mod tests {
    use super::status_ok;

    #[test]
    fn statuses() {
        assert!(status_ok(b"HTTP/1.1 200"));
        assert!(status_ok(b"HTTP/1.0 302"));
        assert!(!status_ok(b"HTTP/1.1 404"));
        assert!(!status_ok(b"HTTP/1.1 500"));
        assert!(!status_ok(b"garbage"));
        assert!(!status_ok(b""));
    }
}
