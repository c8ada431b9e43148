//! `managers.<plugin>` for the systemd-based managers: extra directives by
//! section, e.g. `{"Service": {"LimitNOFILE": 65536}}`.

use crate::{diagnostics, Diagnostic};
use serde_json::Value;

/// One extra directive: (section, key, value).
pub type Directive = (String, String, String);

/// The directives of `json` (a service's `managers.<plugin>`), in the
/// sections `known` (e.g. `["Unit", "Service", "Install"]`).
pub fn extra_directives(plugin: &str, service: &str, json: &str, known: &[&str]) -> Result<Vec<Directive>, Diagnostic> {
    let value = diagnostics::parse_settings(json, Some(service))?;
    let bad = |m: String| diagnostics::error(service, "managers", format!("managers.{plugin}: {m}"));
    let object = value.as_object().ok_or_else(|| bad("must be an object of sections".into()))?;
    let mut out = Vec::new();
    for (section, directives) in object {
        if !known.contains(&section.as_str()) {
            return Err(bad(format!("unknown section {section:?} (known: {})", known.join(", "))));
        }
        let directives = directives.as_object().ok_or_else(|| bad(format!("{section} must be an object of directives")))?;
        for (key, value) in directives {
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(bad(format!("{section}.{key}: not a directive name")));
            }
            let values = match value {
                Value::Array(items) => items.clone(),
                single => vec![single.clone()],
            };
            for v in values {
                let text = match v {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => if b { "yes".into() } else { "no".into() },
                    other => return Err(bad(format!("{section}.{key}: {other} is not a string, number or boolean"))),
                };
                if text.contains(['\n', '\r']) {
                    return Err(bad(format!("{section}.{key}: a value must be one line")));
                }
                out.push((section.clone(), key.clone(), text));
            }
        }
    }
    Ok(out)
}
