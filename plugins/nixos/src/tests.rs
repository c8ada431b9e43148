//! module.nix and vm.nix as text; tests/tests/nixos.rs parses and evaluates
//! them and runs the units NixOS would make of them under a real systemd.

use super::Nixos;
use nix2dream_plugin_kit::testing::{deployment, service, ServiceExt};
use nix2dream_plugin_kit::{Artifact, Dependency, DependencyCondition, Deployment, Healthcheck, Manager, Probe, Severity};

fn files(d: Deployment) -> (Vec<(String, String)>, Vec<String>) {
    let rendered = Nixos::render(d).unwrap_or_else(|e| panic!("{e:?}"));
    let files = rendered
        .artifacts
        .into_iter()
        .map(|a| match a {
            Artifact::File(f) => (f.path, String::from_utf8(f.contents).unwrap()),
            Artifact::Image(_) => panic!("no images from nixos"),
            Artifact::VmRoot(_) => panic!("no VM roots from nixos"),
        })
        .collect();
    (files, rendered.diagnostics.into_iter().map(|d| d.message).collect())
}

fn get<'a>(files: &'a [(String, String)], path: &str) -> &'a str {
    &files.iter().find(|(p, _)| p == path).unwrap_or_else(|| panic!("{path} missing: {files:?}")).1
}

#[test]
fn services_are_prefixed_with_the_deployment_so_nixos_own_stay_apart() {
    let (files, _) = files(deployment(vec![service("nginx", &["/bin/nginx"])]));
    let module = get(&files, "module.nix");
    assert!(module.contains("  systemd.services.demo-nginx = {\n"), "{module}");
    assert!(!module.contains("systemd.services.nginx"), "{module}");
}

#[test]
fn argv_goes_through_nixos_own_escaping_and_env_keeps_percent_literal() {
    let mut d = deployment(vec![service("web", &["/bin/echo", "$HOME", "100%", "a \"b\""]).env("GREETING", "50% ${x}")]);
    d.services[0].package = Some("/nix/store/5v7a3k05lvl7bvx2vys1gw44lgicm527-pkg".into());
    let (files, _) = files(d);
    let module = get(&files, "module.nix");
    assert!(module.contains(r#"ExecStart = utils.escapeSystemdExecArgs [ "/bin/echo" "$HOME" "100%" "a \"b\"" ];"#), "{module}");
    assert!(module.contains(r#""GREETING" = "50%% \${x}";"#) || module.contains(r#"GREETING = "50%% \${x}";"#), "{module}");
    assert!(module.contains(r#"path = [ (store "/nix/store/5v7a3k05lvl7bvx2vys1gw44lgicm527-pkg") ];"#), "{module}");
    assert!(module.contains(r#"system.extraDependencies = [ (store "/nix/store/5v7a3k05lvl7bvx2vys1gw44lgicm527-pkg") ];"#), "{module}");
}

#[test]
fn replicas_users_health_and_dependencies() {
    let mut db = service("db", &["db"]).with(|s| {
        s.replicas = 2;
        s.user = Some("pg".into());
        s.healthcheck = Some(Healthcheck { probe: Probe::Command(vec!["true".into()]), interval_seconds: 1, timeout_seconds: 2, retries: 3, start_period_seconds: 0 });
    });
    db.group = Some("data".into());
    let web = service("web", &["web"]).with(|s| s.depends_on.push(Dependency { service: "db".into(), condition: DependencyCondition::Healthy }));
    let (files, warnings) = files(deployment(vec![db, web]));
    assert!(warnings.is_empty(), "{warnings:?}");
    let module = get(&files, "module.nix");
    assert!(module.contains("systemd.services.\"demo-db@\" = {"), "{module}");
    assert!(module.contains(r#"wants = [ "demo-db@1.service" "demo-db@2.service" "demo-web.service" ];"#), "{module}");
    assert!(module.contains(r#"after = [ "demo-db@1.service" "demo-db@2.service" ];"#), "{module}");
    assert!(module.contains("postStart = \"uptime() {"), "{module}");
    assert!(module.contains("TimeoutStartSec = \"39\";"), "{module}");
    assert!(module.contains("users.users.pg = {\n    isSystemUser = lib.mkDefault true;\n    group = lib.mkDefault \"data\";\n  };"), "{module}");
    assert!(module.contains("users.groups.data = { };"), "{module}");
}

#[test]
fn config_text_becomes_a_store_file_bound_in_place() {
    let svc = service("web", &["web"]).working_directory("/var/lib/web").text_file("ssl/cert.pem", "ssl/cert.pem", "CERT\n");
    let (files, _) = files(deployment(vec![svc]));
    let module = get(&files, "module.nix");
    assert!(module.contains(r#"BindReadOnlyPaths = [ "${builtins.toFile "demo-web-ssl-cert.pem" "CERT
"}:/var/lib/web/ssl/cert.pem" ];"#), "{module}");
}

#[test]
fn ports_open_the_firewall_only_when_asked_and_the_vm_forwards_them() {
    let svc = || service("web", &["web"]).port("http", 8080).with(|s| s.resources.memory_mib = Some(2048));
    let (closed, warnings) = files(deployment(vec![svc()]));
    assert!(!get(&closed, "module.nix").contains("firewall"));
    assert!(warnings[0].contains("8080/tcp") && warnings[0].contains("openFirewall"), "{warnings:?}");
    let vm = get(&closed, "vm.nix");
    assert!(vm.contains("host.address = \"127.0.0.1\"; host.port = 8080; guest.port = 8080; proto = \"tcp\";"), "{vm}");
    assert!(vm.contains("virtualisation.memorySize = 2560;"), "{vm}");
    let mut d = deployment(vec![svc()]);
    d.settings_json = r#"{"openFirewall": true, "vm": {"memoryMiB": 4096, "cores": 2}}"#.into();
    let (opened, warnings) = files(d);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(get(&opened, "module.nix").contains("networking.firewall.allowedTCPPorts = [ 8080 ];"));
    assert!(get(&opened, "vm.nix").contains("virtualisation.memorySize = 4096;\n  virtualisation.cores = 2;"));
}

#[test]
fn bad_input_is_an_error_naming_the_option() {
    let mut d = deployment(vec![service("web", &["web"])]);
    d.settings_json = r#"{"openFirewal": true}"#.into();
    let e = Nixos::render(d).unwrap_err();
    assert!(e[0].message.starts_with("settings.nixos.openFirewal: unknown field `openFirewal`"), "{e:?}");
    let e = Nixos::render(deployment(vec![service("web", &["web", "a\0b"])])).unwrap_err();
    assert!(e[0].option_name.as_deref() == Some("process.argv") && e[0].message.contains("NUL"), "{e:?}");
    let e = Nixos::render(deployment(vec![service("web", &["web"]).settings(r#"{"Install": {"WantedBy": "x"}}"#)])).unwrap_err();
    assert!(e.iter().all(|d| d.severity == Severity::Error) && e[0].message.starts_with("services.web.managers.nixos.Install: unknown field `Install`"), "{e:?}");
}

#[test]
fn supported_options_are_exactly_those_that_change_the_output() {
    use nix2dream_plugin_kit::testing::honoured_options;
    let honoured = honoured_options(|svc| files(deployment(vec![svc, service("db", &["db"])])).0);
    let mut declared = Nixos::info().supported_options;
    declared.sort();
    assert_eq!(declared, honoured);
}
