//! One module per released WIT version (`wit/v<version>/`), each with its own
//! bindings. A plugin's version is read from its exports before choosing one.

pub mod since_v0_1_0;

/// The interface a plugin must export, without its version.
pub const INTERFACE: &str = "nix2dream:manager/plugin";

/// The contract versions this host can load, newest last.
pub const KNOWN_VERSIONS: &[&str] = &["0.1.0"];

/// Which bindings serve a plugin exporting `INTERFACE@version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    V0_1,
}

impl Contract {
    /// Semver-compatible matching, as wasmtime does: `0.1.x` is served by 0.1.0.
    pub fn for_version(version: &str) -> Option<Contract> {
        let mut parts = version.split('.');
        match (parts.next(), parts.next()) {
            (Some("0"), Some("1")) => Some(Contract::V0_1),
            _ => None,
        }
    }
}
