//! Semantic checks serde cannot express. Every message starts with the path
//! of the field concerned.

use super::{options, Deployment, Protocol};
use anyhow::{bail, Result};
use std::collections::{BTreeMap, BTreeSet};

fn is_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub fn check(d: &Deployment) -> Result<()> {
    let mut errors = Vec::new();
    if !is_name(&d.name) {
        errors.push(format!("name: {:?} must match [a-z0-9][a-z0-9-]*", d.name));
    }
    if d.services.is_empty() {
        errors.push("services: at least one service is needed".to_owned());
    }
    for option in &d.ignore_unsupported {
        if !options::is_core_option(option) {
            errors.push(format!("ignoreUnsupported: {option:?} is not a core option (known: {})", options::CORE_OPTIONS.join(", ")));
        }
    }
    let mut published: BTreeMap<(u16, Protocol), String> = BTreeMap::new();
    for (name, s) in &d.services {
        let at = |field: &str| format!("services.{name}.{field}");
        if !is_name(name) {
            errors.push(format!("services.{name}: service names must match [a-z0-9][a-z0-9-]*"));
        }
        match s.process.argv.first() {
            None => errors.push(format!("{}: must not be empty", at("process.argv"))),
            Some(p) if p.is_empty() => errors.push(format!("{}: the program (first element) must not be empty", at("process.argv"))),
            _ => {}
        }
        if let Some(wd) = &s.working_directory {
            if !wd.starts_with('/') {
                errors.push(format!("{}: {wd:?} must be an absolute path", at("workingDirectory")));
            }
        }
        for (v, volume) in &s.volumes {
            if !volume.path.starts_with('/') {
                errors.push(format!("{}: {:?} must be an absolute path", at(&format!("volumes.{v}.path")), volume.path));
            }
        }
        for (c, config) in &s.config_data {
            if config.text.is_some() == config.source.is_some() {
                errors.push(format!("{}: exactly one of `text` and `source` must be set", at(&format!("configData.{c}"))));
            }
            if config.path.as_deref().unwrap_or(c).split('/').any(|part| part == "..") {
                errors.push(format!("{}: the path must not contain `..`", at(&format!("configData.{c}.path"))));
            }
        }
        for (p, port) in &s.ports {
            if port.port == 0 {
                errors.push(format!("{}: must be between 1 and 65535", at(&format!("ports.{p}.port"))));
            }
            if let Some(other) = published.insert((port.port, port.protocol), name.clone()) {
                errors.push(format!("{}: port {} is also used by service {other:?}", at(&format!("ports.{p}.port")), port.port));
            }
        }
        for dep in s.depends_on.keys() {
            if dep == name {
                errors.push(format!("{}: a service cannot depend on itself", at(&format!("dependsOn.{dep}"))));
            } else if !d.services.contains_key(dep) {
                errors.push(format!("{}: no service named {dep:?} (known: {})", at(&format!("dependsOn.{dep}")), d.services.keys().cloned().collect::<Vec<_>>().join(", ")));
            }
        }
        if let Some(h) = &s.healthcheck {
            if h.command.is_some() == h.http.is_some() {
                errors.push(format!("{}: exactly one of `command` and `http` must be set", at("healthcheck")));
            }
            if h.command.as_ref().is_some_and(|c| c.is_empty()) {
                errors.push(format!("{}: must not be empty", at("healthcheck.command")));
            }
        }
        if s.replicas == 0 {
            errors.push(format!("{}: must be at least 1", at("replicas")));
        }
        if s.resources.cpus.is_some_and(|c| !(c > 0.0 && c.is_finite())) {
            errors.push(format!("{}: must be a positive number", at("resources.cpus")));
        }
        for option in s.options_set().iter().chain(&s.ignore_unsupported) {
            if !options::is_core_option(option) {
                errors.push(format!("{}: {option:?} is not a core option (known: {})", at("optionsSet/ignoreUnsupported"), options::CORE_OPTIONS.join(", ")));
            }
        }
    }
    if let Some(cycle) = find_cycle(d) {
        errors.push(format!("dependsOn: dependency cycle: {}", cycle.join(" -> ")));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        bail!("{}", errors.join("\n"))
    }
}

/// A dependency cycle, as the list of services along it, if there is one.
fn find_cycle(d: &Deployment) -> Option<Vec<String>> {
    fn visit<'a>(d: &'a Deployment, name: &'a str, stack: &mut Vec<&'a str>, done: &mut BTreeSet<&'a str>) -> Option<Vec<String>> {
        if let Some(pos) = stack.iter().position(|s| *s == name) {
            let mut cycle: Vec<String> = stack[pos..].iter().map(|s| s.to_string()).collect();
            cycle.push(name.to_owned());
            return Some(cycle);
        }
        if !done.insert(name) {
            return None;
        }
        stack.push(name);
        for dep in d.services.get(name).map(|s| s.depends_on.keys()).into_iter().flatten() {
            if d.services.contains_key(dep) && dep != name {
                if let Some(cycle) = visit(d, dep, stack, done) {
                    return Some(cycle);
                }
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    d.services.keys().find_map(|name| visit(d, name, &mut Vec::new(), &mut done))
}

#[cfg(test)]
mod tests {
    use crate::deployment::from_json;

    fn with_services(services: &str) -> String {
        format!(r#"{{"schema":"nix2dream/v1","name":"t","services":{services}}}"#)
    }

    fn error_of(json: &str) -> String {
        format!("{:#}", from_json(json).expect_err("should be refused"))
    }

    #[test]
    fn minimal_service_loads_with_defaults_and_derived_options() {
        let d = from_json(&with_services(r#"{"web":{"process":{"argv":["x"]},"env":{"A":"1"}}}"#)).unwrap();
        let web = &d.services["web"];
        assert_eq!(web.replicas, 1);
        assert_eq!(web.options_set(), ["process.argv", "env"]);
    }

    #[test]
    fn type_errors_name_the_field() {
        let e = error_of(&with_services(r#"{"web":{"process":{"argv":["x"]},"ports":{"http":{"port":70000}}}}"#));
        assert!(e.starts_with("services.web.ports.http.port:"), "{e}");
        let e = error_of(&with_services(r#"{"web":{"process":{"argv":["x"]},"evn":{}}}"#));
        assert!(e.starts_with("services.web.evn: unknown field"), "{e}");
        let e = error_of(&with_services(r#"{"web":{"process":{"argv":"x"}}}"#));
        assert!(e.starts_with("services.web.process.argv:"), "{e}");
    }

    #[test]
    fn schema_is_required() {
        assert!(error_of(r#"{"name":"t","services":{}}"#).starts_with("schema: missing"));
        assert!(error_of(r#"{"schema":"nix2dream/v9","name":"t","services":{}}"#).starts_with("schema: expected"));
        assert!(error_of("{not json").starts_with("not valid JSON"));
    }

    #[test]
    fn semantic_errors_name_service_and_option() {
        let e = error_of(&with_services(
            r#"{"a":{"process":{"argv":[]},"dependsOn":{"ghost":{}}},
                "b":{"process":{"argv":["b"]},"ports":{"p":{"port":80}},"volumes":{"v":{"path":"rel"}},"dependsOn":{"c":{}}},
                "c":{"process":{"argv":["c"]},"ports":{"q":{"port":80}},"dependsOn":{"b":{"condition":"healthy"}}}}"#,
        ));
        for expected in [
            "services.a.process.argv: must not be empty",
            "services.a.dependsOn.ghost: no service named \"ghost\"",
            "services.b.volumes.v.path: \"rel\" must be an absolute path",
            "services.c.ports.q.port: port 80 is also used by service \"b\"",
            "dependsOn: dependency cycle: b -> c -> b",
        ] {
            assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
        }
    }
}
