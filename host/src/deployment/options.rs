//! The core option names: the vocabulary shared by `optionsSet`,
//! `ignoreUnsupported`, `--allow-unsupported` and a plugin's supported options.

/// Every core option, as the Nix modules and the JSON name it.
pub const CORE_OPTIONS: &[&str] = &[
    "description",
    "package",
    "process.argv",
    "env",
    "path",
    "workingDirectory",
    "preStart",
    "configData",
    "volumes",
    "ports",
    "user",
    "group",
    "dependsOn",
    "healthcheck",
    "restart",
    "resources",
    "replicas",
];

pub fn is_core_option(name: &str) -> bool {
    CORE_OPTIONS.contains(&name)
}

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
