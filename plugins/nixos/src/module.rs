//! `module.nix`: the deployment as an ordinary NixOS module. Each service is
//! the shared plan (`kit::systemd::plan`) written with NixOS's own options,
//! so users override it the NixOS way (`lib.mkForce`).

use crate::nix::{attr, has_nul, inner, list, store_path, store_path_inner, store_root, string};
use crate::settings::DeploymentSettings;
use nix2dream_plugin_kit::systemd::directives::Directive;
use nix2dream_plugin_kit::systemd::escape::text;
use nix2dream_plugin_kit::systemd::plan::{create_shared_dirs_command, plan_in, BindSource, Platform, ServicePlan};
use nix2dream_plugin_kit::systemd::{shared_volume_dirs, volumes_unit_name};
use nix2dream_plugin_kit::systemd::{instances, unit_name};
use nix2dream_plugin_kit::{diagnostics, Deployment, Diagnostic, Index, Protocol, Service};
use std::collections::BTreeMap;

/// NixOS gives every service a PATH of its own (`systemd.services.<name>.path`
/// plus its default tools), so a bare command is looked up there.
const NIXOS: Platform = Platform { manager_sets_path: true };

/// A `serviceConfig`/`unitConfig` value: one, or a list (repeated directive).
enum Value {
    One(String),
    Many(Vec<String>),
}

/// Directives of one section, written as Nix expressions, by name.
#[derive(Default)]
struct Section(BTreeMap<String, Value>);

impl Section {
    fn one(&mut self, key: &str, expr: String) {
        self.0.insert(key.to_owned(), Value::One(expr));
    }
    fn push(&mut self, key: &str, expr: String) {
        match self.0.entry(key.to_owned()).or_insert(Value::Many(Vec::new())) {
            Value::Many(items) => items.push(expr),
            one => *one = Value::Many(vec![expr]),
        }
    }
    /// managers.nixos: adds to a list directive, replaces a single one.
    fn extra(&mut self, key: &str, expr: String) {
        match self.0.get_mut(key) {
            Some(Value::Many(items)) => items.push(expr),
            _ => self.one(key, expr),
        }
    }
    fn write(&self, out: &mut String, indent: &str) {
        for (key, value) in &self.0 {
            let value = match value {
                Value::One(expr) => expr.clone(),
                Value::Many(items) => list(items),
            };
            out.push_str(&format!("{indent}{} = {value};\n", attr(key)));
        }
    }
}

/// The users and groups the services run as, declared as system accounts.
#[derive(Default)]
pub struct Accounts {
    /// user → primary group
    users: BTreeMap<String, String>,
    groups: std::collections::BTreeSet<String>,
}

fn is_named(account: &str) -> bool {
    account != "root" && !account.is_empty() && !account.bytes().all(|b| b.is_ascii_digit())
}

impl Accounts {
    fn add(&mut self, svc: &Service) {
        let group = svc.group.as_deref().filter(|g| is_named(g));
        if let Some(user) = svc.user.as_deref().filter(|u| is_named(u)) {
            let primary = group.unwrap_or(user).to_owned();
            self.groups.insert(primary.clone());
            self.users.entry(user.to_owned()).or_insert(primary);
        }
        if let Some(g) = group {
            self.groups.insert(g.to_owned());
        }
    }

    fn write(&self, out: &mut String) {
        // mkDefault: an account NixOS (or the user) already defines keeps its settings.
        for (user, group) in &self.users {
            out.push_str(&format!(
                "  users.users.{} = {{\n    isSystemUser = lib.mkDefault true;\n    group = lib.mkDefault {};\n  }};\n",
                attr(user),
                string(group)
            ));
        }
        for group in &self.groups {
            out.push_str(&format!("  users.groups.{} = {{ }};\n", attr(group)));
        }
    }
}

/// A `builtins.toFile` name for a config file: store path names allow only
/// `[A-Za-z0-9+-._?=]` and must not start with a dot.
fn file_name(d: &Deployment, svc: &Service, name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "+-._?=".contains(c) { c } else { '-' })
        .collect();
    format!("{}-{}-{}", d.name, svc.name, clean)
}

/// Refuses strings Nix cannot hold (NUL), naming the option.
fn check_nul(svc: &Service, errors: &mut Vec<Diagnostic>) {
    let mut check = |option: &str, s: &str| {
        if has_nul(s) {
            errors.push(diagnostics::error(&svc.name, option, "contains a NUL byte, which a Nix string cannot hold"));
        }
    };
    svc.argv.iter().for_each(|a| check("process.argv", a));
    svc.env.iter().for_each(|e| check("env", &e.value));
    svc.pre_start.iter().for_each(|s| check("preStart", s));
    svc.description.iter().for_each(|s| check("description", s));
    for f in &svc.config_files {
        if let nix2dream_plugin_kit::FileContent::Text(t) = &f.content {
            check("configData", t);
        }
    }
}

/// One service's `systemd.services."<unit>"` definition.
fn service_definition(d: &Deployment, svc: &Service, plan: &ServicePlan, extra: &[Directive]) -> String {
    let mut out = format!("  systemd.services.{} = {{\n", attr(&unit_name(d, svc)));
    let mut line = |key: &str, expr: String| out.push_str(&format!("    {key} = {expr};\n"));
    line("description", string(&text(&plan.description)));
    line("partOf", list(&[string(&format!("{}.target", d.name))]));
    if !plan.after.is_empty() {
        let units: Vec<String> = plan.after.iter().map(|u| string(u)).collect();
        line("after", list(&units));
        line("requires", list(&units));
    }
    if !plan.path_dirs.is_empty() {
        let dirs: Vec<String> = plan.path_dirs.iter().map(|p| store_path(p)).collect();
        line("path", list(&dirs));
    }
    if !plan.env.is_empty() {
        let mut env = String::from("{\n");
        for (name, value) in &plan.env {
            // NixOS writes `Environment="NAME=value"`, where systemd expands `%` specifiers.
            let value = string(&value.replace('%', "%%"));
            // NixOS defines PATH itself (from `path`): the service's own PATH wins.
            let value = if name == "PATH" { format!("lib.mkForce {value}") } else { value };
            env.push_str(&format!("      {} = {value};\n", attr(name)));
        }
        line("environment", env + "    }");
    }
    if let Some(script) = &plan.pre_start {
        line("preStart", string(script));
    }
    if let Some(gate) = &plan.health {
        // The health gate (kit::systemd::health): the unit turns active only once it passes.
        line("postStart", string(&gate.script));
    }

    let mut unit = Section::default();
    let mut service = Section::default();
    service.one("Type", string(plan.service_type));
    if plan.service_type == "oneshot" {
        service.one("RemainAfterExit", "true".to_owned());
    }
    let argv: Vec<String> = plan.exec_start.iter().map(|w| string(w)).collect();
    service.one("ExecStart", format!("utils.escapeSystemdExecArgs {}", list(&argv)));
    if let Some(user) = &plan.user {
        service.one("User", string(&text(user)));
    }
    if let Some(group) = &plan.group {
        service.one("Group", string(&text(group)));
    }
    for path in &plan.tmpfs {
        service.push("TemporaryFileSystem", string(&format!("{path}:mode=1777")));
    }
    for bind in &plan.volume_binds {
        let directive = if bind.read_only { "BindReadOnlyPaths" } else { "BindPaths" };
        service.push(directive, string(&format!("{}:{}", bind.source, bind.target)));
    }
    for path in &plan.read_only_paths {
        service.push("ReadOnlyPaths", string(path));
    }
    // The file stays where it is, outside the store: systemd reads it at start.
    for (name, file) in &plan.credentials {
        service.push("LoadCredential", string(&format!("{name}:{file}")));
    }
    for (name, path) in &plan.credential_binds {
        service.push("BindReadOnlyPaths", string(&format!("%d/{name}:{path}")));
    }
    for (directive, rel) in &plan.managed_directories {
        service.push(directive, string(rel));
    }
    if let Some(dir) = &plan.working_directory {
        service.one("WorkingDirectory", string(dir));
    }
    for bind in &plan.binds {
        let source = match &bind.source {
            // Inline text becomes a store file: part of the system, bound read-only.
            BindSource::Text { name, contents } => {
                format!("${{builtins.toFile {} {}}}", string(&file_name(d, svc, name)), string(contents))
            }
            BindSource::Path(path) => store_path_inner(path),
        };
        service.push("BindReadOnlyPaths", format!("\"{source}:{}\"", inner(&bind.target)));
    }
    if let Some(gate) = &plan.health {
        service.one("TimeoutStartSec", string(&gate.timeout_seconds.to_string()));
    }
    service.one("Restart", string(plan.restart));
    if let Some(signal) = &plan.kill_signal {
        service.one("KillSignal", string(signal));
    }
    if let Some(seconds) = plan.timeout_stop_seconds {
        service.one("TimeoutStopSec", string(&seconds.to_string()));
    }
    if let Some(quota) = &plan.cpu_quota {
        service.one("CPUQuota", string(quota));
    }
    if let Some(max) = &plan.memory_max {
        service.one("MemoryMax", string(max));
    }
    for (section, key, value) in extra {
        match section.as_str() {
            "Unit" => unit.extra(key, string(value)),
            _ => service.extra(key, string(value)),
        }
    }
    if !unit.0.is_empty() {
        out.push_str("    unitConfig = {\n");
        unit.write(&mut out, "      ");
        out.push_str("    };\n");
    }
    out.push_str("    serviceConfig = {\n");
    service.write(&mut out, "      ");
    out.push_str("    };\n  };\n");
    out
}

pub struct Module {
    pub text: String,
    pub warnings: Vec<Diagnostic>,
}

pub fn render(d: &Deployment, settings: &DeploymentSettings) -> Result<Module, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut services = String::new();
    let mut accounts = Accounts::default();
    let mut wants = Vec::new();
    // Dependencies and secrets found by name once per render, not by a search per service.
    let index = Index::new(d);
    for svc in &d.services {
        check_nul(svc, &mut errors);
        let extra = crate::settings::extra_directives(&svc.name, &svc.settings_json);
        match (plan_in(&index, svc, &NIXOS), extra) {
            (Ok(plan), Ok(extra)) => {
                services += &service_definition(d, svc, &plan, &extra);
                services.push('\n');
                warnings.extend(plan.warnings);
            }
            (plan, extra) => errors.extend(plan.err().into_iter().flatten().chain(extra.err())),
        }
        accounts.add(svc);
        wants.extend(instances(d, svc).into_iter().map(|u| string(&u)));
        if svc.ports.iter().any(|p| !p.internal) && !settings.open_firewall {
            let ports: Vec<String> =
                svc.ports.iter().filter(|p| !p.internal).map(|p| format!("{}/{}", p.port, protocol(p.protocol))).collect();
            warnings.push(diagnostics::warning(
                &svc.name,
                "ports",
                format!("the firewall stays closed on {}: set settings.nixos.openFirewall = true to open it (vm.nix forwards them either way)", ports.join(", ")),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let mut out = format!(
        "# Generated by nix2dream (nixos plugin) from deployment {name:?}. Do not edit: re-render.\n\
         # Import it from configuration.nix: imports = [ ./module.nix ];\n\
         # Units are named <deployment>-<service> (here {name}-*), apart from NixOS's own services.\n\
         {{ lib, utils, ... }}:\n\
         let\n\
         \x20 # A store path made a dependency of the system, so NixOS copies it with the\n\
         \x20 # closure. Unlike builtins.storePath, this works in pure (flake) evaluation.\n\
         \x20 store = path: builtins.appendContext path {{ ${{path}} = {{ path = true; }}; }};\n\
         in\n\
         {{\n",
        name = d.name
    );
    out += &format!(
        "  systemd.targets.{} = {{\n    description = {};\n    wantedBy = [ \"multi-user.target\" ];\n    wants = {};\n  }};\n\n",
        attr(&d.name),
        string(&text(&format!("nix2dream deployment {}", d.name))),
        list(&wants)
    );
    out += &services;
    if let Some(dirs) = shared_volume_dirs(d) {
        // Creates the shared volume directories before the services that
        // mount them start (they require this unit).
        let words: Vec<String> = create_shared_dirs_command(&dirs).iter().map(|w| string(w)).collect();
        let unit = volumes_unit_name(d);
        out += &format!(
            "  systemd.services.{} = {{\n    description = {};\n    serviceConfig = {{\n      Type = \"oneshot\";\n      RemainAfterExit = true;\n      ExecStart = utils.escapeSystemdExecArgs {};\n    }};\n  }};\n\n",
            attr(unit.trim_end_matches(".service")),
            string(&text(&format!("shared volumes of nix2dream deployment {}", d.name))),
            list(&words)
        );
    }
    accounts.write(&mut out);
    if settings.open_firewall {
        for (protocol_name, protocol_value) in [("TCP", Protocol::Tcp), ("UDP", Protocol::Udp)] {
            let ports = firewall_ports(d, protocol_value);
            if !ports.is_empty() {
                out += &format!("  networking.firewall.allowed{protocol_name}Ports = {};\n", list(&ports));
            }
        }
    }
    // Top-level store paths only: what NixOS's option takes (packages, or paths in the store).
    let mut roots: Vec<&str> =
        d.services.iter().flat_map(|s| s.closure_roots.iter().chain(&s.package).chain(&s.path)).filter_map(|p| store_root(p)).collect();
    roots.sort();
    roots.dedup();
    if !roots.is_empty() {
        let roots: Vec<String> = roots.iter().map(|r| store_path(r)).collect();
        out += &format!("  # What the services need at run time, in the system's closure.\n  system.extraDependencies = {};\n", list(&roots));
    }
    out += "}\n";
    Ok(Module { text: out, warnings })
}

pub fn protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

/// The deployment's published ports of one protocol (internal ones stay
/// closed), as (host port, port the service listens on), sorted, once each.
pub fn published_ports(d: &Deployment, protocol: Protocol) -> Vec<(u16, u16)> {
    let mut ports: Vec<(u16, u16)> = d
        .services
        .iter()
        .flat_map(|s| &s.ports)
        .filter(|p| p.protocol == protocol && !p.internal)
        .map(|p| (p.host_port.unwrap_or(p.port), p.port))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// The ports services listen on that the firewall opens (the published ones).
pub fn firewall_ports(d: &Deployment, protocol: Protocol) -> Vec<String> {
    let mut ports: Vec<u16> = published_ports(d, protocol).into_iter().map(|(_, guest)| guest).collect();
    ports.sort_unstable();
    ports.dedup();
    ports.iter().map(u16::to_string).collect()
}
