//! compose.yaml's tree: deep merge of user settings, and Compose's `$`
//! escaping. It is written out by `kit::yaml` (every string quoted).

use serde_yaml_ng::Value;

/// Compose interpolates `$VAR` in every string; `$$` is a literal `$`.
pub fn escape(s: &str) -> String {
    s.replace('$', "$$")
}

pub fn string(s: &str) -> Value {
    Value::String(escape(s))
}

pub fn strings<S: AsRef<str>>(items: &[S]) -> Value {
    Value::Sequence(items.iter().map(|s| string(s.as_ref())).collect())
}

/// User settings (JSON) as YAML; they are taken verbatim (not escaped), so a
/// user can write `${VAR}` on purpose.
pub fn from_json(json: &serde_json::Value) -> Value {
    serde_yaml_ng::to_value(json).unwrap_or(Value::Null)
}

/// Merges `overlay` into `base`: mappings key by key, anything else replaced.
pub fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Mapping(base), Value::Mapping(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (_, Value::Null) => {}
        (base, overlay) => *base = overlay,
    }
}
