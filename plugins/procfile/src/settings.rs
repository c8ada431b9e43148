//! The plugin's settings: `settings.procfile` (deployment-wide) and
//! `managers.procfile` (per service). Their JSON Schema is derived from these
//! types (`kit::settings::schema`) and the host checks both places against it
//! before the plugin runs; serde reads them here.

use nix2dream_plugin_kit::settings::{self, JsonSchema};
use nix2dream_plugin_kit::diagnostics::deployment_error;
use nix2dream_plugin_kit::Diagnostic;
use serde::Deserialize;

/// The launcher directory used when `binDir` is not set.
pub const DEFAULT_BIN_DIR: &str = "bin";

/// settings.procfile (deployment-wide).
#[derive(Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct DeploymentSettings {
    /// Directory, relative to the output directory, that holds the launcher scripts.
    #[schemars(pattern(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$"))]
    pub bin_dir: String,
}

impl Default for DeploymentSettings {
    fn default() -> Self {
        DeploymentSettings { bin_dir: DEFAULT_BIN_DIR.to_owned() }
    }
}

/// managers.procfile (per service).
#[derive(Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ServiceSettings {
    /// false leaves the service out of the Procfile.
    pub enable: bool,
    /// true lets the launcher write configData files at absolute paths outside the working directory and volumes (it deletes and rewrites them at every start, e.g. in /etc).
    pub allow_host_config_paths: bool,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        ServiceSettings { enable: true, allow_host_config_paths: false }
    }
}

/// The schema `info()` declares.
pub fn schema() -> String {
    settings::schema::<DeploymentSettings, ServiceSettings>("procfile")
}

/// Reads `settings.procfile`.
pub fn deployment(json: &str) -> Result<DeploymentSettings, Vec<Diagnostic>> {
    let parsed: DeploymentSettings = settings::deployment("procfile", json).map_err(|d| vec![d])?;
    match check_bin_dir(&parsed.bin_dir) {
        Ok(()) => Ok(parsed),
        Err(why) => Err(vec![deployment_error(format!("settings.procfile.binDir {:?}: {why}", parsed.bin_dir))]),
    }
}

/// Reads a service's `managers.procfile`.
pub fn service(service: &str, json: &str) -> Result<ServiceSettings, Vec<Diagnostic>> {
    settings::service("procfile", service, json).map_err(|d| vec![d])
}

/// The schema's pattern keeps `binDir` to characters that need no shell
/// quoting in a Procfile line; where it lands is checked here, a rule about
/// the output directory rather than a shape: no `.`/`..` segment (it stays
/// inside the output) and not the Procfile itself.
fn check_bin_dir(dir: &str) -> Result<(), &'static str> {
    if dir.split('/').any(|segment| segment == "." || segment == "..") {
        return Err("must not contain '.' or '..' segments");
    }
    if dir.split('/').next() == Some(crate::procfile::FILE_NAME) {
        return Err("would clash with the Procfile itself");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn defaults_and_values() {
        assert_eq!(deployment("").unwrap().bin_dir, "bin");
        assert_eq!(deployment("{}").unwrap().bin_dir, "bin");
        assert_eq!(deployment(r#"{"binDir":"run/launchers"}"#).unwrap().bin_dir, "run/launchers");
        assert!(service("web", "").unwrap().enable);
        assert!(!service("web", r#"{"enable":false}"#).unwrap().enable);
    }

    #[test]
    fn where_bin_dir_lands_is_checked_here() {
        for bad in [r#"{"binDir":"../x"}"#, r#"{"binDir":"a/./b"}"#, r#"{"binDir":"Procfile"}"#, r#"{"binDir":"Procfile/x"}"#] {
            assert!(deployment(bad).is_err(), "{bad} accepted");
        }
    }

    /// Without the host (a unit test), serde still refuses what the types do not hold, naming the field.
    #[test]
    fn wrong_types_and_keys_are_refused_by_serde() {
        let e = deployment(r#"{"binDir":3}"#).unwrap_err();
        assert!(e[0].message.starts_with("settings.procfile.binDir: invalid type"), "{e:?}");
        assert!(deployment(r#"{"enable":false}"#).is_err());
        assert!(service("web", r#"{"enable":"no"}"#).is_err());
        assert!(service("web", r#"{"binDir":"x"}"#).is_err());
    }

    /// What the host checks: the shapes the hand-written code used to refuse.
    #[test]
    fn the_schema_holds_the_rules() {
        let schema: Value = serde_json::from_str(&schema()).unwrap();
        let pattern = schema["$defs"]["DeploymentSettings"]["properties"]["binDir"]["pattern"].as_str().unwrap();
        assert_eq!(pattern, r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$");
        assert_eq!(schema["$defs"]["DeploymentSettings"]["properties"]["binDir"]["default"], DEFAULT_BIN_DIR);
        assert_eq!(schema["$defs"]["ServiceSettings"]["properties"]["enable"]["default"], true);
        assert_eq!(schema["$defs"]["ServiceSettings"]["additionalProperties"], false);
    }
}
