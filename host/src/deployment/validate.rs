//! Semantic checks serde cannot express. Every message starts with the path
//! of the field concerned.

use super::{options, Condition, Deployment, Protocol, Restart};
use nix2dream_core_options::STOP_SIGNALS;
use anyhow::{bail, Result};
use std::collections::{BTreeMap, HashMap};

/// The most replicas a service may ask for: far beyond any real deployment,
/// and small enough for every manager's counters (and instance names).
pub const MAX_REPLICAS: u32 = 10_000;

/// At most this many problems are listed, then how many more there are.
const MAX_LISTED: usize = 20;

/// At most this many service names are offered as "known" in one message.
const MAX_NAMES_OFFERED: usize = 10;

/// Why `path` is not an absolute, normal path (a Nix store path is one).
fn absolute_path_problem(path: &str) -> Option<&'static str> {
    if !path.starts_with('/') {
        Some("must be an absolute path (a Nix store path such as /nix/store/…-name)")
    } else if path.split('/').skip(1).any(|part| part == "." || part == "..") {
        Some("must not contain `.` or `..` components")
    } else {
        None
    }
}

/// Some of the service names, for "no service named X (known: …)".
fn some_names(d: &Deployment) -> String {
    let mut names: Vec<&str> = d.services.keys().take(MAX_NAMES_OFFERED).map(String::as_str).collect();
    if d.services.len() > MAX_NAMES_OFFERED {
        names.push("…");
    }
    names.join(", ")
}

fn is_env_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_') && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub fn check(d: &Deployment) -> Result<()> {
    let mut errors = Vec::new();
    let known = some_names(d);
    if !is_name(&d.name) {
        errors.push(format!("name: {:?} must match [a-z0-9][a-z0-9-]*", d.name));
    }
    if d.services.is_empty() {
        errors.push("services: at least one service is needed".to_owned());
    }
    for (name, secret) in &d.secrets {
        if secret.file.is_none() && secret.environment.is_none() && secret.kubernetes.is_none() {
            errors.push(format!("secrets.{name}: say where the value comes from: `file`, `environment` or `kubernetes`"));
        }
        if let Some(problem) = secret.file.as_deref().and_then(absolute_path_problem) {
            errors.push(format!("secrets.{name}.file: {:?} {problem}", secret.file.as_deref().unwrap_or("")));
        }
        if secret.environment.as_deref().is_some_and(|e| !is_env_name(e)) {
            errors.push(format!("secrets.{name}.environment: {:?} is not a variable name", secret.environment.as_deref().unwrap_or("")));
        }
    }
    for volume in d.volumes.keys() {
        if !is_name(volume) {
            errors.push(format!("volumes.{volume}: volume names must match [a-z0-9][a-z0-9-]*"));
        }
    }
    for option in &d.ignore_unsupported {
        if !options::is_core_option(option) {
            errors.push(format!("ignoreUnsupported: {option:?} is not a core option (known: {})", options::CORE_OPTIONS.join(", ")));
        }
    }
    // Ports the services listen on (one machine's network under some managers),
    // and ports published on the host.
    let mut listening: BTreeMap<(u16, Protocol), &str> = BTreeMap::new();
    // (service, port name)
    let mut published: BTreeMap<(u16, Protocol), (&str, &str)> = BTreeMap::new();
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
        // (field, index in it), named only in a message.
        let paths = s.package.iter().map(|p| ("package", None, p))
            .chain(s.path.iter().enumerate().map(|(i, p)| ("path", Some(i), p)))
            .chain(s.closure_roots.iter().enumerate().map(|(i, p)| ("closureRoots", Some(i), p)));
        for (field, index, path) in paths {
            if let Some(problem) = absolute_path_problem(path) {
                let field = index.map_or_else(|| field.to_owned(), |i| format!("{field}[{i}]"));
                errors.push(format!("{}: {path:?} {problem}", at(&field)));
            }
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
            if volume.shared.is_some() && volume.host_path.is_some() {
                errors.push(format!("{}: set at most one of `shared` and `hostPath`", at(&format!("volumes.{v}"))));
            }
            if !volume.persistent && (volume.shared.is_some() || volume.host_path.is_some()) {
                errors.push(format!(
                    "{}: a shared volume or a host path keeps its data: `persistent = false` does not apply",
                    at(&format!("volumes.{v}.persistent"))
                ));
            }
            if let Some(shared) = &volume.shared {
                if !d.volumes.contains_key(shared) {
                    errors.push(format!(
                        "{}: the deployment has no volume {shared:?} (declare it in the top-level `volumes`)",
                        at(&format!("volumes.{v}.shared"))
                    ));
                }
            }
            if let Some(problem) = volume.host_path.as_deref().and_then(absolute_path_problem) {
                errors.push(format!("{}: {:?} {problem}", at(&format!("volumes.{v}.hostPath")), volume.host_path.as_deref().unwrap_or("")));
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
            if port.port == 0 || port.host_port == Some(0) {
                errors.push(format!("{}: must be between 1 and 65535", at(&format!("ports.{p}"))));
            }
            if let Some(other) = listening.insert((port.port, port.protocol), name) {
                errors.push(format!("{}: port {} is also used by service {other:?}", at(&format!("ports.{p}.port")), port.port));
            }
            if port.internal && port.host_port.is_some() {
                errors.push(format!("{}: an internal port is not published, so it has no host port", at(&format!("ports.{p}.hostPort"))));
            }
            if !port.internal {
                let host = port.published_port();
                if let Some((other, other_port)) = published.insert((host, port.protocol), (name, p)) {
                    errors.push(format!("{}: host port {host} is also published by services.{other}.ports.{other_port}", at(&format!("ports.{p}"))));
                }
            }
        }
        for (dep, dependency) in &s.depends_on {
            if dep == name {
                errors.push(format!("{}: a service cannot depend on itself", at(&format!("dependsOn.{dep}"))));
            } else if let Some(target) = d.services.get(dep) {
                if dependency.condition == Condition::Completed && !target.one_shot {
                    errors.push(format!(
                        "{}: condition \"completed\" waits for a one-shot service to exit, and {dep:?} is not one (set its `oneShot = true`, or use \"started\" or \"healthy\")",
                        at(&format!("dependsOn.{dep}.condition"))
                    ));
                }
            } else {
                errors.push(format!("{}: no service named {dep:?} (known: {known})", at(&format!("dependsOn.{dep}"))));
            }
        }
        if s.one_shot && s.restart == Restart::Always {
            errors.push(format!("{}: a one-shot service cannot restart \"always\" (it would run again after succeeding): use \"on-failure\" or \"no\"", at("restart")));
        }
        if let Some(signal) = &s.stop_signal {
            if !STOP_SIGNALS.contains(&signal.as_str()) {
                errors.push(format!("{}: {signal:?} is not one of {}", at("stopSignal"), STOP_SIGNALS.join(", ")));
            }
        }
        for (secret, using) in &s.secrets {
            let field = || at(&format!("secrets.{secret}"));
            if !d.secrets.contains_key(secret) {
                errors.push(format!("{}: the deployment has no secret {secret:?} (declare where it comes from in the top-level `secrets`)", field()));
            }
            match (&using.path, &using.env) {
                (Some(path), None) if !path.starts_with('/') => errors.push(format!("{}.path: {path:?} must be an absolute path", field())),
                (None, Some(env)) if !is_env_name(env) => errors.push(format!("{}.env: {env:?} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)", field())),
                (None, Some(env)) if s.env.contains_key(env) => errors.push(format!("{}.env: {env} is also in the service's env", field())),
                (Some(_), None) | (None, Some(_)) => {}
                _ => errors.push(format!("{}: set exactly one of `path` and `env`", field())),
            }
        }
        if s.stop_timeout == Some(0) {
            errors.push(format!("{}: must be at least 1 second", at("stopTimeout")));
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
        } else if s.replicas > MAX_REPLICAS {
            errors.push(format!("{}: {} is more than the {MAX_REPLICAS} replicas nix2dream allows", at("replicas"), s.replicas));
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
    errors.extend(crate::addresses::unknown_references(d));
    if let Some(cycle) = find_cycle(d) {
        let shown = if cycle.len() > MAX_LISTED {
            format!("{} -> … -> {} ({} services)", cycle[..MAX_LISTED / 2].join(" -> "), cycle[cycle.len() - 2..].join(" -> "), cycle.len() - 1)
        } else {
            cycle.join(" -> ")
        };
        errors.push(format!("dependsOn: dependency cycle: {shown}"));
    }
    if errors.is_empty() {
        return Ok(());
    }
    let more = errors.len().saturating_sub(MAX_LISTED);
    errors.truncate(MAX_LISTED);
    if more > 0 {
        errors.push(format!("… and {more} more problem(s) like these"));
    }
    bail!("{}", errors.join("\n"))
}

/// A dependency cycle, as the list of services along it, if there is one.
/// Depth-first with an explicit stack: linear in services and edges, and no
/// recursion for a long chain to overflow.
fn find_cycle(d: &Deployment) -> Option<Vec<String>> {
    let names: Vec<&str> = d.services.keys().map(String::as_str).collect();
    let index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let edges: Vec<Vec<usize>> = d
        .services
        .iter()
        .map(|(name, s)| s.depends_on.keys().filter(|dep| *dep != name).filter_map(|dep| index.get(dep.as_str()).copied()).collect())
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut mark = vec![Mark::New; names.len()];
    for start in 0..names.len() {
        if mark[start] != Mark::New {
            continue;
        }
        // (service, how many of its dependencies were followed already)
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = Mark::OnPath;
        while let Some((node, next)) = path.last_mut() {
            let node = *node;
            match edges[node].get(*next).copied() {
                Some(dep) => {
                    *next += 1;
                    match mark[dep] {
                        Mark::New => {
                            mark[dep] = Mark::OnPath;
                            path.push((dep, 0));
                        }
                        Mark::OnPath => {
                            let from = path.iter().position(|(n, _)| *n == dep).expect("a service on the path");
                            let mut cycle: Vec<String> = path[from..].iter().map(|(n, _)| names[*n].to_owned()).collect();
                            cycle.push(names[dep].to_owned());
                            return Some(cycle);
                        }
                        Mark::Done => {}
                    }
                }
                None => {
                    mark[node] = Mark::Done;
                    path.pop();
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::deployment::from_json;
    use super::STOP_SIGNALS;

    /// The VM supervisor sends the signals `stopSignal` names by number:
    /// its table covers the core options' list, with Linux's numbers.
    #[test]
    fn the_vm_supervisor_knows_every_stop_signal() {
        let names: Vec<&str> = nix2dream_vm_init::STOP_SIGNALS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, STOP_SIGNALS);
        let numbers = [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT, libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2, libc::SIGWINCH];
        let table: Vec<i32> = nix2dream_vm_init::STOP_SIGNALS.iter().map(|(_, n)| *n).collect();
        assert_eq!(table, numbers);
    }

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

    fn chain(n: usize, last_depends_on: Option<&str>) -> String {
        let mut services = serde_json::Map::new();
        for i in 0..n {
            let next = if i + 1 < n { Some(format!("s{}", i + 1)) } else { last_depends_on.map(str::to_owned) };
            let mut s = serde_json::json!({"process": {"argv": ["x"]}});
            if let Some(next) = next {
                s["dependsOn"] = serde_json::json!({ next: {} });
            }
            services.insert(format!("s{i}"), s);
        }
        with_services(&serde_json::Value::Object(services).to_string())
    }

    #[test]
    fn a_long_dependency_chain_is_checked_without_recursion() {
        // 40,000 links overflowed the stack when the search recursed.
        let d = from_json(&chain(40_000, None)).expect("a chain has no cycle");
        assert_eq!(d.services.len(), 40_000);
        let e = error_of(&chain(40_000, Some("s0")));
        assert!(e.starts_with("dependsOn: dependency cycle: s0 -> s1 -> "), "{}", &e[..200.min(e.len())]);
        assert!(e.ends_with("(40000 services)") && e.len() < 1000, "the cycle is not summarised: {} bytes", e.len());
    }

    #[test]
    fn many_problems_give_a_bounded_error() {
        // Each of 20,000 services names a missing dependency: the error lists
        // 20 problems and a count, and never every service name per problem.
        let mut services = serde_json::Map::new();
        for i in 0..20_000 {
            services.insert(format!("s{i}"), serde_json::json!({"process": {"argv": ["x"]}, "dependsOn": {format!("ghost{i}"): {}}}));
        }
        let e = error_of(&with_services(&serde_json::Value::Object(services).to_string()));
        assert!(e.contains("services.s0.dependsOn.ghost0: no service named \"ghost0\" (known: s0, s1, "), "{}", &e[..300]);
        assert!(e.ends_with("… and 19980 more problem(s) like these"), "{}", &e[e.len() - 200..]);
        assert!(e.len() < 10_000, "{} bytes of errors", e.len());
    }

    #[test]
    fn paths_and_replicas_are_checked_with_the_field_named() {
        let e = error_of(&with_services(
            r#"{"a":{"process":{"argv":["a"]},"package":"result/bin","path":["/nix/store/x","tools"],"closureRoots":["/nix/store/../etc"],"replicas":4294967295}}"#,
        ));
        for expected in [
            "services.a.package: \"result/bin\" must be an absolute path",
            "services.a.path[1]: \"tools\" must be an absolute path",
            "services.a.closureRoots[0]: \"/nix/store/../etc\" must not contain `.` or `..`",
            "services.a.replicas: 4294967295 is more than the 10000 replicas",
        ] {
            assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
        }
        assert!(!e.contains("path[0]"), "{e}");
    }
}
