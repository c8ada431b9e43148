//! `settings.k8s`: what the cluster needs to know that services do not say.

use nix2dream_plugin_kit::{diagnostics, Diagnostic};

pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "k8s manager settings",
  "description": "settings.k8s (deployment-wide).",
  "type": "object",
  "properties": {
    "storage": {"type": "string", "description": "Size requested by each persistent volume's claim, e.g. 10Gi. Default: 1Gi."},
    "imagePullPolicy": {"enum": ["IfNotPresent", "Never", "Always"], "description": "Default: IfNotPresent (images are loaded into the cluster, not pulled)."}
  }
}"#;

pub struct Settings {
    pub storage: String,
    pub image_pull_policy: String,
}

impl Settings {
    pub fn parse(json: &str) -> Result<Settings, Diagnostic> {
        let value = diagnostics::parse_settings(json, None)?;
        let bad = |m: String| diagnostics::deployment_error(format!("settings.k8s: {m}"));
        let object = value.as_object().ok_or_else(|| bad("must be an object".into()))?;
        let mut settings = Settings { storage: "1Gi".into(), image_pull_policy: "IfNotPresent".into() };
        for (key, value) in object {
            match (key.as_str(), value.as_str()) {
                ("storage", Some(size)) if is_quantity(size) => settings.storage = size.to_owned(),
                ("storage", _) => return Err(bad(format!("storage must be a size such as 10Gi, not {value}"))),
                ("imagePullPolicy", Some(p @ ("IfNotPresent" | "Never" | "Always"))) => settings.image_pull_policy = p.to_owned(),
                ("imagePullPolicy", _) => return Err(bad(format!("imagePullPolicy must be IfNotPresent, Never or Always, not {value}"))),
                (other, _) => return Err(bad(format!("unknown setting {other:?} (known: storage, imagePullPolicy)"))),
            }
        }
        Ok(settings)
    }
}

/// A Kubernetes quantity such as `512Mi`, `10Gi` or `1000000`.
fn is_quantity(s: &str) -> bool {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &s[digits.len()..];
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && ["", "Ki", "Mi", "Gi", "Ti", "Pi", "k", "M", "G", "T", "P"].contains(&suffix)
}
