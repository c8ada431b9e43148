//! The capability check: options a service set that a plugin does not honour.

use crate::deployment::Deployment;
use std::collections::HashSet;

/// A core option set by a service that the plugin ignores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    pub service: String,
    pub option: String,
}

/// Options set by each service, minus those the plugin supports and those the
/// user silenced (`--allow-unsupported`, `ignoreUnsupported` on the
/// deployment or the service).
pub fn ignored_options(deployment: &Deployment, supported: &[String], allowed: &[String]) -> Vec<Ignored> {
    // Looked up once per option each service sets: a set, not a scan of
    // the ~25 supported names (10,000 services set 60,000 options).
    let silenced: HashSet<&str> = supported.iter().chain(allowed).chain(&deployment.ignore_unsupported).map(String::as_str).collect();
    let mut ignored = Vec::new();
    for (name, service) in &deployment.services {
        for option in service.options_set() {
            if !silenced.contains(option.as_str()) && !service.ignore_unsupported.contains(option) {
                ignored.push(Ignored { service: name.clone(), option: option.clone() });
            }
        }
    }
    ignored
}

pub fn describe(ignored: &Ignored, plugin_label: &str) -> String {
    format!(
        "service {:?} sets `{}`, which {plugin_label} does not support: it is ignored \
         (silence with --allow-unsupported {} or ignoreUnsupported)",
        ignored.service, ignored.option, ignored.option
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::from_json;

    #[test]
    fn unsupported_options_are_listed_unless_silenced() {
        let d = from_json(
            r#"{"schema":"nix2dream/v1","name":"t","ignoreUnsupported":["replicas"],"services":{
                "a":{"process":{"argv":["a"]},"healthcheck":{"command":["true"]},"replicas":2,"user":"u"},
                "b":{"process":{"argv":["b"]},"user":"u","ignoreUnsupported":["user"]}}}"#,
        )
        .unwrap();
        let supported = vec!["process.argv".to_owned()];
        let names = |v: Vec<Ignored>| v.into_iter().map(|i| format!("{}.{}", i.service, i.option)).collect::<Vec<_>>();
        assert_eq!(names(ignored_options(&d, &supported, &[])), ["a.user", "a.healthcheck"]);
        assert_eq!(names(ignored_options(&d, &supported, &["healthcheck".into()])), ["a.user"]);
    }
}
