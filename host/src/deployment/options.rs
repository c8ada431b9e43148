//! The core option names: the vocabulary shared by `optionsSet`,
//! `ignoreUnsupported`, `--allow-unsupported` and a plugin's supported options.

pub use nix2dream_core_options::{is_core_option, CORE_OPTIONS};

/// For hand-written JSON without `optionsSet`: the core options whose field is
/// present (and not null) in the service's JSON object.
pub fn options_present(service: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    CORE_OPTIONS
        .iter()
        .filter(|option| match option.split_once('.') {
            Some((outer, inner)) => service.get(outer).and_then(|v| v.get(inner)).is_some_and(|v| !v.is_null()),
            None => service.get(**option).is_some_and(|v| !v.is_null()),
        })
        .map(|option| option.to_string())
        .collect()
}
