//! Service addresses. A service names another one's address by a reference
//! (`ports.<port>.host` in the Nix modules, `@@nix2dream:host:<service>@@`
//! in the JSON); where that address is depends on the manager: 127.0.0.1
//! where every service shares one machine's network (Procfile, systemd, a
//! VM), the service's name under Compose and Kubernetes. Each plugin says
//! which (`addressing` in its info); the host writes the addresses into the
//! deployment it gives that plugin, so no plugin parses references.

use crate::deployment::{Deployment, Service};
use crate::plugin::Addressing;
use std::borrow::Cow;

const START: &str = "@@nix2dream:host:";
const END: &str = "@@";

/// Whether `text` may hold a reference. Most texts hold no `@`: found by
/// memchr, before a substring search is set up.
fn may_refer(text: &str) -> bool {
    text.contains('@') && text.contains(START)
}

/// The services named by references in `text`, in order.
fn references(text: &str) -> impl Iterator<Item = &str> {
    may_refer(text).then(|| text.match_indices(START)).into_iter().flatten().filter_map(move |(at, _)| {
        let rest = &text[at + START.len()..];
        rest.find(END).map(|end| &rest[..end])
    })
}

/// Where a text is in a service; named only for a message.
enum Field<'s> {
    Argv(usize),
    Env(&'s str),
    ConfigText(&'s str),
    PreStart,
    HealthcheckCommand(usize),
}

impl std::fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Field::Argv(i) => write!(f, "process.argv[{i}]"),
            Field::Env(name) => write!(f, "env.{name}"),
            Field::ConfigText(name) => write!(f, "configData.{name}.text"),
            Field::PreStart => f.write_str("preStart"),
            Field::HealthcheckCommand(i) => write!(f, "healthcheck.command[{i}]"),
        }
    }
}

/// Every text of a service that may hold a reference, with where it is.
fn texts(s: &Service) -> impl Iterator<Item = (Field<'_>, &str)> {
    let argv = s.process.argv.iter().enumerate().map(|(i, a)| (Field::Argv(i), a.as_str()));
    let env = s.env.iter().map(|(k, v)| (Field::Env(k), v.as_str()));
    let config = s.config_data.iter().filter_map(|(n, c)| c.text.as_deref().map(|t| (Field::ConfigText(n), t)));
    let pre_start = s.pre_start.as_deref().map(|p| (Field::PreStart, p));
    let command = s.healthcheck.iter().flat_map(|h| h.command.iter().flatten());
    argv.chain(env).chain(config).chain(pre_start).chain(command.enumerate().map(|(i, a)| (Field::HealthcheckCommand(i), a.as_str())))
}

/// References to services the deployment does not have, as error messages.
pub fn unknown_references(d: &Deployment) -> Vec<String> {
    let mut errors = Vec::new();
    for (name, s) in &d.services {
        for (field, text) in texts(s) {
            for target in references(text) {
                if !d.services.contains_key(target) {
                    errors.push(format!(
                        "services.{name}.{field}: refers to the address of service {target:?}, which this deployment does not have"
                    ));
                }
            }
        }
    }
    errors
}

fn resolve_text(text: &mut String, addressing: Addressing) {
    if !may_refer(text) {
        return;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find(START) {
        out.push_str(&rest[..at]);
        let after = &rest[at + START.len()..];
        match after.find(END) {
            Some(end) => {
                out.push_str(match addressing {
                    Addressing::Loopback => "127.0.0.1",
                    Addressing::ServiceName => &after[..end],
                });
                rest = &after[end + END.len()..];
            }
            None => {
                out.push_str(&rest[at..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    *text = out;
}

/// The deployment with every reference written as `addressing` says; the
/// same deployment, not a copy, when it has none.
pub fn resolve(d: &Deployment, addressing: Addressing) -> Cow<'_, Deployment> {
    let any = d.services.values().any(|s| texts(s).any(|(_, t)| may_refer(t)));
    if !any {
        return Cow::Borrowed(d);
    }
    let mut d = d.clone();
    for s in d.services.values_mut() {
        s.process.argv.iter_mut().for_each(|a| resolve_text(a, addressing));
        s.env.values_mut().for_each(|v| resolve_text(v, addressing));
        s.config_data.values_mut().filter_map(|c| c.text.as_mut()).for_each(|t| resolve_text(t, addressing));
        if let Some(p) = s.pre_start.as_mut() {
            resolve_text(p, addressing);
        }
        if let Some(command) = s.healthcheck.as_mut().and_then(|h| h.command.as_mut()) {
            command.iter_mut().for_each(|a| resolve_text(a, addressing));
        }
    }
    Cow::Owned(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Deployment {
        crate::deployment::from_json(
            r#"{"schema": "nix2dream/v1", "name": "shop", "services": {
                "backend": {"process": {"argv": ["server"]}, "ports": {"http": {"port": 18000}}},
                "proxy": {"process": {"argv": ["proxy", "--to=@@nix2dream:host:backend@@:18000"]},
                          "env": {"BACKEND": "http://@@nix2dream:host:backend@@:18000/", "PLAIN": "@@ no reference"}}}}"#,
        )
        .unwrap()
    }

    #[test]
    fn references_become_loopback_or_service_names_and_nothing_else_changes() {
        let d = deployment();
        let local = resolve(&d, Addressing::Loopback);
        let proxy = &local.services["proxy"];
        assert_eq!(proxy.process.argv, ["proxy", "--to=127.0.0.1:18000"]);
        assert_eq!(proxy.env["BACKEND"], "http://127.0.0.1:18000/");
        assert_eq!(proxy.env["PLAIN"], "@@ no reference");
        let named = resolve(&d, Addressing::ServiceName);
        assert_eq!(named.services["proxy"].env["BACKEND"], "http://backend:18000/");
        assert!(matches!(resolve(&named, Addressing::Loopback), Cow::Borrowed(_)), "nothing left to resolve: no copy");
    }

    #[test]
    fn a_reference_to_a_missing_service_is_refused_naming_the_field() {
        let err = crate::deployment::from_json(
            r#"{"schema": "nix2dream/v1", "name": "shop", "services": {
                "proxy": {"process": {"argv": ["proxy"]}, "env": {"BACKEND": "@@nix2dream:host:backnd@@:1"}}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("services.proxy.env.BACKEND") && err.contains("\"backnd\""), "{err}");
    }
}
