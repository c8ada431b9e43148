//! The deployment: loading, validating and naming what is wrong.

mod model;
pub mod options;
pub mod strict_json;
mod validate;

pub use model::*;

use anyhow::{anyhow, bail, Result};

/// Parses and validates a `nix2dream/v1` deployment. Errors name the field,
/// e.g. `services.web.ports.http.port: invalid value: integer 70000, expected u16`.
pub fn from_json(text: &str) -> Result<Deployment> {
    let value = strict_json::parse(text).map_err(|e| anyhow!("not valid JSON: {e}"))?;
    from_value(value)
}

pub fn from_value(value: serde_json::Value) -> Result<Deployment> {
    match value.get("schema") {
        Some(serde_json::Value::String(s)) if s == SCHEMA => {}
        Some(other) => bail!("schema: expected \"{SCHEMA}\", found {other}"),
        None => bail!("schema: missing; this input must say \"schema\": \"{SCHEMA}\""),
    }
    // Without tracking the path first (a third of the time at 10,000
    // services); a deployment that fails is read again, tracking it, for
    // the message.
    let mut deployment: Deployment = match <Deployment as serde::Deserialize>::deserialize(&value) {
        Ok(deployment) => deployment,
        Err(_) => serde_path_to_error::deserialize(&value).map_err(|e| {
            let path = e.path().to_string();
            anyhow!("{}: {}", if path == "." { "(top level)".into() } else { path }, e.inner())
        })?,
    };
    let deployment_env = std::mem::take(&mut deployment.env);
    for (name, service) in deployment.services.iter_mut() {
        if service.options_set.is_none() {
            let empty = serde_json::Map::new();
            let object = value["services"][name].as_object().unwrap_or(&empty);
            service.options_set = Some(options::options_present(object));
        }
        if !deployment_env.is_empty() {
            // The service's own value wins.
            for (key, value) in &deployment_env {
                service.env.entry(key.clone()).or_insert_with(|| value.clone());
            }
            let set = service.options_set.get_or_insert_with(Vec::new);
            if !set.iter().any(|o| o == "env") {
                set.push("env".to_owned());
            }
        }
    }
    validate::check(&deployment)?;
    Ok(deployment)
}

impl Service {
    pub fn options_set(&self) -> &[String] {
        self.options_set.as_deref().unwrap_or_default()
    }
}
