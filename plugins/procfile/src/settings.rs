//! The plugin's settings: `settings.procfile` (deployment-wide) and
//! `managers.procfile` (per service), and their JSON Schema.

use nix2dream_plugin_kit::diagnostics::{deployment_error, error, parse_settings};
use nix2dream_plugin_kit::Diagnostic;
use serde_json::{Map, Value};

/// The launcher directory used when `binDir` is not set.
pub const DEFAULT_BIN_DIR: &str = "bin";

/// One schema for both places; each property says where it belongs, and a
/// property given in the wrong place is an error at render time.
pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "procfile manager settings",
  "description": "settings.procfile (deployment-wide) accepts binDir; managers.procfile (per service) accepts enable and allowHostConfigPaths.",
  "type": "object",
  "properties": {
    "binDir": {
      "description": "Deployment-wide (settings.procfile) only. Directory, relative to the output directory, that holds the launcher scripts.",
      "type": "string",
      "pattern": "^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
      "default": "bin"
    },
    "enable": {
      "description": "Per service (managers.procfile) only. false leaves the service out of the Procfile.",
      "type": "boolean",
      "default": true
    },
    "allowHostConfigPaths": {
      "description": "Per service (managers.procfile) only. true lets the launcher write configData files at absolute paths outside the working directory and volumes (it deletes and rewrites them at every start, e.g. in /etc).",
      "type": "boolean",
      "default": false
    }
  },
  "additionalProperties": false
}"#;

/// `settings.procfile`.
#[derive(Debug, PartialEq, Eq)]
pub struct DeploymentSettings {
    pub bin_dir: String,
}

/// `managers.procfile` of one service.
#[derive(Debug, PartialEq, Eq)]
pub struct ServiceSettings {
    pub enable: bool,
    pub allow_host_config_paths: bool,
}

/// Parses `settings.procfile`.
pub fn deployment(json: &str) -> Result<DeploymentSettings, Vec<Diagnostic>> {
    let object = as_object(parse_settings(json, None).map_err(|d| vec![d])?, None)?;
    let mut errors = Vec::new();
    let mut bin_dir = DEFAULT_BIN_DIR.to_owned();
    for (key, value) in &object {
        match (key.as_str(), value) {
            ("binDir", Value::String(dir)) => match check_bin_dir(dir) {
                Ok(()) => bin_dir = dir.clone(),
                Err(why) => errors.push(deployment_error(format!("settings.procfile.binDir {dir:?}: {why}"))),
            },
            ("binDir", _) => errors.push(deployment_error("settings.procfile.binDir must be a string")),
            ("enable", _) => errors.push(deployment_error(
                "settings.procfile.enable is a per-service setting: set managers.procfile.enable on the service",
            )),
            (other, _) => errors.push(deployment_error(format!(
                "settings.procfile.{other} is not a setting of the procfile manager (known: binDir)"
            ))),
        }
    }
    if errors.is_empty() {
        Ok(DeploymentSettings { bin_dir })
    } else {
        Err(errors)
    }
}

/// Parses a service's `managers.procfile`.
pub fn service(service: &str, json: &str) -> Result<ServiceSettings, Vec<Diagnostic>> {
    let object = as_object(parse_settings(json, Some(service)).map_err(|d| vec![d])?, Some(service))?;
    let mut errors = Vec::new();
    let mut enable = true;
    let mut allow_host_config_paths = false;
    for (key, value) in &object {
        match (key.as_str(), value) {
            ("enable", Value::Bool(on)) => enable = *on,
            ("enable", _) => errors.push(error(service, "managers", "managers.procfile.enable must be true or false")),
            ("allowHostConfigPaths", Value::Bool(on)) => allow_host_config_paths = *on,
            ("allowHostConfigPaths", _) => {
                errors.push(error(service, "managers", "managers.procfile.allowHostConfigPaths must be true or false"))
            }
            ("binDir", _) => errors.push(error(
                service,
                "managers",
                "managers.procfile.binDir is deployment-wide: set settings.procfile.binDir instead",
            )),
            (other, _) => errors.push(error(
                service,
                "managers",
                format!("managers.procfile.{other} is not a setting of the procfile manager (known: enable, allowHostConfigPaths)"),
            )),
        }
    }
    if errors.is_empty() {
        Ok(ServiceSettings { enable, allow_host_config_paths })
    } else {
        Err(errors)
    }
}

fn as_object(value: Value, service: Option<&str>) -> Result<Map<String, Value>, Vec<Diagnostic>> {
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(vec![match service {
            Some(s) => error(s, "managers", "managers.procfile must be a JSON object"),
            None => deployment_error("settings.procfile must be a JSON object"),
        }]),
    }
}

/// `binDir` becomes part of every Procfile line and of artifact paths, so it
/// is kept to characters that need no shell quoting and never leave the
/// output directory.
fn check_bin_dir(dir: &str) -> Result<(), &'static str> {
    if dir.is_empty() {
        return Err("must not be empty");
    }
    for segment in dir.split('/') {
        if segment.is_empty() {
            return Err("must be relative, with no empty segment (no leading, trailing or doubled '/')");
        }
        if segment == "." || segment == ".." {
            return Err("must not contain '.' or '..' segments");
        }
        if !segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)) {
            return Err("may only contain letters, digits, '_', '.', '-' and '/'");
        }
    }
    if dir.split('/').next() == Some(crate::procfile::FILE_NAME) {
        return Err("would clash with the Procfile itself");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_values() {
        assert_eq!(deployment("").unwrap().bin_dir, "bin");
        assert_eq!(deployment("{}").unwrap().bin_dir, "bin");
        assert_eq!(deployment(r#"{"binDir":"run/launchers"}"#).unwrap().bin_dir, "run/launchers");
        assert!(service("web", "").unwrap().enable);
        assert!(!service("web", r#"{"enable":false}"#).unwrap().enable);
    }

    #[test]
    fn bad_settings_are_errors() {
        for bad in [
            r#"{"binDir":"../x"}"#,
            r#"{"binDir":"/abs"}"#,
            r#"{"binDir":"a//b"}"#,
            r#"{"binDir":""}"#,
            r#"{"binDir":"a b"}"#,
            r#"{"binDir":"Procfile"}"#,
            r#"{"binDir":3}"#,
            r#"{"bindir":"x"}"#,
            r#"{"enable":false}"#,
            r#"[1]"#,
            r#"{"#,
        ] {
            assert!(deployment(bad).is_err(), "{bad} accepted");
        }
        for bad in [r#"{"enable":"no"}"#, r#"{"binDir":"x"}"#, r#"{"enabled":false}"#, "3"] {
            assert!(service("web", bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn schema_is_json() {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        assert_eq!(schema["properties"]["binDir"]["default"], DEFAULT_BIN_DIR);
    }
}
