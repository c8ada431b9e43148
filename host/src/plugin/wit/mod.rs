//! One module per released WIT version (`wit/v<version>/`), each with its own
//! bindings. A plugin's version is read from its exports before choosing one;
//! results of older versions are upgraded to the latest types.

mod convert;
pub mod since_v0_1_0;
pub mod since_v0_2_0;
pub mod since_v0_3_0;
pub mod since_v0_4_0;

/// The newest contract's types, which the rest of the host works with.
pub use since_v0_4_0::api as latest;

/// The interface a plugin must export, without its version.
pub const INTERFACE: &str = "nix2dream:manager/plugin";

/// The contract versions this host can load, oldest first.
pub const KNOWN_VERSIONS: &[&str] = &["0.1.0", "0.2.0", "0.3.0", "0.4.0"];

/// Which bindings serve a plugin exporting `INTERFACE@version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    V0_1,
    V0_2,
    V0_3,
    V0_4,
}

impl Contract {
    /// Semver-compatible matching, as wasmtime does for 0.x: `0.2.x` is served by 0.2.0.
    pub fn for_version(version: &str) -> Option<Contract> {
        let mut parts = version.split('.');
        match (parts.next(), parts.next()) {
            (Some("0"), Some("1")) => Some(Contract::V0_1),
            (Some("0"), Some("2")) => Some(Contract::V0_2),
            (Some("0"), Some("3")) => Some(Contract::V0_3),
            (Some("0"), Some("4")) => Some(Contract::V0_4),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Contract;

    /// 0.x versions match as wasmtime matches them: same minor, any patch.
    #[test]
    fn patch_releases_are_served_by_their_minor_and_unknown_versions_by_none() {
        assert_eq!(Contract::for_version("0.1.0"), Some(Contract::V0_1));
        assert_eq!(Contract::for_version("0.2.1"), Some(Contract::V0_2));
        assert_eq!(Contract::for_version("0.3.0"), Some(Contract::V0_3));
        assert_eq!(Contract::for_version("0.3.9"), Some(Contract::V0_3));
        assert_eq!(Contract::for_version("0.4.1"), Some(Contract::V0_4));
        for unknown in ["0.5.0", "0.9.0", "1.0.0", "1.3.0", "", "garbage"] {
            assert_eq!(Contract::for_version(unknown), None, "{unknown}");
        }
    }
}
