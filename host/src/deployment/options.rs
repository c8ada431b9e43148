//! The core option names: the vocabulary shared by `optionsSet`,
//! `ignoreUnsupported`, `--allow-unsupported` and a plugin's supported options.

pub use nix2dream_core_options::{is_core_option, CORE_OPTIONS};

/// For hand-written JSON without `optionsSet`: the core options whose field is
/// present (and not null or `false`) in the service's JSON object.
pub fn options_present(service: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    // `ports.internal` and `ports.hostPort` are set when any port sets them
    // (and `volumes.shared`, `.hostPath`, `.readOnly` when any volume does).
    let any_entry = |map: &str, field: &str| {
        service.get(map).and_then(|m| m.as_object()).is_some_and(|entries| {
            entries.values().any(|e| e.get(field).is_some_and(|v| !v.is_null() && *v != serde_json::Value::Bool(false)))
        })
    };
    CORE_OPTIONS
        .iter()
        .filter(|option| match option.split_once('.') {
            Some((map @ ("ports" | "volumes"), inner)) => any_entry(map, inner),
            Some((outer, inner)) => service.get(outer).and_then(|v| v.get(inner)).is_some_and(|v| !v.is_null()),
            // `oneShot: false` is the default written out.
            None => service.get(**option).is_some_and(|v| !v.is_null() && *v != serde_json::Value::Bool(false)),
        })
        .map(|option| option.to_string())
        .collect()
}
