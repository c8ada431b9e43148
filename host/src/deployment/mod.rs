//! The deployment: loading, validating and naming what is wrong.

mod model;
pub mod options;
mod read;
pub mod strict_json;
mod validate;

pub use model::*;

use anyhow::{anyhow, bail, Result};

/// Parses and validates a `nix2dream/v1` deployment. Errors name the field,
/// e.g. `services.web.ports.http.port: invalid value: integer 70000, expected u16`.
pub fn from_json(text: &str) -> Result<Deployment> {
    match read::read(text) {
        Ok(deployment) => finish(deployment),
        Err(error) => Err(explain(text, error)),
    }
}

/// The same, for a deployment already parsed (what `nix2dream eval` prints).
pub fn from_value(value: &serde_json::Value) -> Result<Deployment> {
    from_json(&value.to_string())
}

/// Why `text` was refused, naming the field: read again, slowly, into a
/// tree that keeps every path (what the one-pass reader does not).
fn explain(text: &str, error: serde_json::Error) -> anyhow::Error {
    let value = match strict_json::parse(text) {
        Ok(value) => value,
        Err(e) => return anyhow!("not valid JSON: {e}"),
    };
    if let Err(e) = check_schema(value.get("schema")) {
        return e;
    }
    match serde_path_to_error::deserialize::<_, Deployment>(&value) {
        Err(e) => {
            let path = e.path().to_string();
            anyhow!("{}: {}", if path == "." { "(top level)".into() } else { path }, e.inner())
        }
        // Refused by the one reader and not the other: its own words.
        Ok(_) => anyhow!("{error}"),
    }
}

fn check_schema(schema: Option<&serde_json::Value>) -> Result<()> {
    match schema {
        Some(serde_json::Value::String(s)) if s == SCHEMA => Ok(()),
        Some(other) => Err(wrong_schema(other)),
        None => bail!("schema: missing; this input must say \"schema\": \"{SCHEMA}\""),
    }
}

fn wrong_schema(found: &serde_json::Value) -> anyhow::Error {
    anyhow!("schema: expected \"{SCHEMA}\", found {found}")
}

/// What the types cannot say: the schema's version, the deployment-wide
/// environment merged into each service, the checks of `validate`.
fn finish(mut deployment: Deployment) -> Result<Deployment> {
    if deployment.schema != SCHEMA {
        return Err(wrong_schema(&serde_json::Value::String(deployment.schema)));
    }
    let deployment_env = std::mem::take(&mut deployment.env);
    if !deployment_env.is_empty() {
        for service in deployment.services.values_mut() {
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
