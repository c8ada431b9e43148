//! Unit files as text; tests/tests/systemd.rs checks them with
//! systemd-analyze and runs them under a real systemd.

use super::Systemd;
use nix2dream_plugin_kit::testing::{deployment, service, ServiceExt};
use nix2dream_plugin_kit::{
    Artifact, ConfigFile, Dependency, DependencyCondition, FileContent, Healthcheck, Manager, Probe, Severity, Volume,
    VolumeSource,
};

fn files(d: nix2dream_plugin_kit::Deployment) -> (Vec<(String, String)>, Vec<String>) {
    let rendered = Systemd::render(d).unwrap_or_else(|e| panic!("{e:?}"));
    let files = rendered
        .artifacts
        .into_iter()
        .map(|a| match a {
            Artifact::File(f) => (f.path, String::from_utf8(f.contents).unwrap()),
            Artifact::Image(_) => panic!("no images from systemd"),
            Artifact::VmRoot(_) => panic!("no VM roots from systemd"),
        })
        .collect();
    (files, rendered.diagnostics.into_iter().map(|d| d.message).collect())
}

fn get<'a>(files: &'a [(String, String)], path: &str) -> &'a str {
    &files.iter().find(|(p, _)| p == path).unwrap_or_else(|| panic!("{path} missing: {files:?}")).1
}

#[test]
fn replicas_become_a_template_with_instances_that_dependents_wait_for() {
    let mut db = service("db", &["/bin/db"]);
    db.replicas = 2;
    db.healthcheck = Some(Healthcheck { probe: Probe::Command(vec!["true".into()]), interval_seconds: 1, timeout_seconds: 2, retries: 3, start_period_seconds: 0 });
    let mut web = service("web", &["/bin/web"]);
    web.depends_on.push(Dependency { service: "db".into(), condition: DependencyCondition::Healthy });
    let (files, warnings) = files(deployment(vec![db, web]));
    assert!(warnings.is_empty(), "{warnings:?}");
    let target = get(&files, "demo.target");
    assert!(target.contains("Wants=demo-db@1.service demo-db@2.service demo-web.service"), "{target}");
    let web = get(&files, "demo-web.service");
    assert!(web.contains("After=demo-db@1.service demo-db@2.service\nRequires=demo-db@1.service demo-db@2.service"), "{web}");
    let db = get(&files, "demo-db@.service");
    assert!(db.contains("ExecStartPost=\"/bin/sh\" \"-c\" \"uptime() {"), "{db}");
    assert!(db.contains("until true; do"), "{db}");
    assert!(db.contains("TimeoutStartSec=39"), "{db}");
}

#[test]
fn state_lives_where_systemd_creates_it_and_the_rest_is_said() {
    let mut svc = service("web", &["web"]);
    svc.volumes = vec![
        Volume { name: "data".into(), path: "/var/lib/web".into(), persistent: true, source: VolumeSource::Own, read_only: false },
        Volume { name: "scratch".into(), path: "/scratch".into(), persistent: false, source: VolumeSource::Own, read_only: false },
        Volume { name: "elsewhere".into(), path: "/srv/data".into(), persistent: true, source: VolumeSource::Own, read_only: false },
    ];
    svc.working_directory = Some("/var/lib/web".into());
    let (files, warnings) = files(deployment(vec![svc]));
    let unit = get(&files, "demo-web.service");
    assert!(unit.contains("StateDirectory=web\n") && unit.contains("TemporaryFileSystem=/scratch:mode=1777\n"), "{unit}");
    assert_eq!(unit.matches("StateDirectory=").count(), 1, "the working directory is the volume: {unit}");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("volumes.elsewhere") && warnings[0].contains("/srv/data"), "{warnings:?}");
}

#[test]
fn config_text_goes_to_out_and_is_bound_from_config_dir() {
    let mut svc = service("web", &["web"]);
    svc.working_directory = Some("/var/lib/web".into());
    svc.config_files = vec![
        ConfigFile { name: "index.html".into(), path: "www/index.html".into(), content: FileContent::Text("<h1>x</h1>".into()) },
        ConfigFile { name: "tls".into(), path: "/etc/tls.pem".into(), content: FileContent::Source("/nix/store/abc-tls.pem".into()) },
    ];
    let mut d = deployment(vec![svc]);
    d.settings_json = r#"{"configDir": "/opt/shop"}"#.into();
    let (files, _) = files(d);
    assert_eq!(get(&files, "config/web/index.html"), "<h1>x</h1>");
    let unit = get(&files, "demo-web.service");
    assert!(unit.contains("BindReadOnlyPaths=/opt/shop/config/web/index.html:/var/lib/web/www/index.html\n"), "{unit}");
    assert!(unit.contains("BindReadOnlyPaths=/nix/store/abc-tls.pem:/etc/tls.pem\n"), "{unit}");
}

#[test]
fn config_text_names_may_hold_directories_but_not_climb_out() {
    let svc = service("web", &["web"]).text_file("ssl/cert.pem", "/etc/ssl/cert.pem", "CERT");
    let (files, _) = files(deployment(vec![svc]));
    assert_eq!(get(&files, "config/web/ssl/cert.pem"), "CERT");
    let unit = get(&files, "demo-web.service");
    assert!(unit.contains("BindReadOnlyPaths=/etc/nix2dream/demo/config/web/ssl/cert.pem:/etc/ssl/cert.pem\n"), "{unit}");
    for bad in ["../x", "a//b", "./x", "a/..", ""] {
        let e = Systemd::render(deployment(vec![service("web", &["web"]).text_file(bad, "/etc/x", "x")])).unwrap_err();
        assert!(e[0].option_name.as_deref() == Some("configData") && e[0].message.contains(&format!("{bad:?}")), "{bad}: {e:?}");
    }
}

#[test]
fn commands_on_the_services_path_go_through_sh() {
    let mut svc = service("web", &["httpd", "-p", "80"]);
    svc.package = Some("/nix/store/abc-busybox".into());
    let (files, _) = files(deployment(vec![svc]));
    let unit = get(&files, "demo-web.service");
    assert!(unit.contains("Environment=\"PATH=/nix/store/abc-busybox/bin:/usr/local/sbin:"), "{unit}");
    assert!(unit.contains("ExecStart=\"/bin/sh\" \"-c\" \"exec \\\"$$@\\\"\" \"sh\" \"httpd\" \"-p\" \"80\""), "{unit}");
}

#[test]
fn bad_settings_and_unwritable_paths_are_errors_naming_the_option() {
    let mut d = deployment(vec![service("web", &["web"])]);
    d.settings_json = r#"{"confDir": "/x"}"#.into();
    let e = Systemd::render(d).unwrap_err();
    assert!(e[0].message.starts_with("settings.systemd.confDir: unknown field `confDir`"), "{e:?}");
    let mut svc = service("web", &["web"]);
    svc.working_directory = Some("/srv/my site".into());
    svc.settings_json = r#"{"Service": {"LimitNOFILE": 65536}, "Sockets": {}}"#.into();
    let e = Systemd::render(deployment(vec![svc])).unwrap_err();
    assert!(e.iter().all(|d| d.severity == Severity::Error));
    assert!(e.iter().any(|d| d.option_name.as_deref() == Some("workingDirectory")), "{e:?}");
    assert!(e.iter().any(|d| d.message.starts_with("services.web.managers.systemd.Sockets: unknown field `Sockets`")), "{e:?}");
    let e = Systemd::render(deployment(vec![service("web", &["web"]).env("NOT VALID", "x")])).unwrap_err();
    assert!(e[0].option_name.as_deref() == Some("env") && e[0].message.contains("\"NOT VALID\""), "{e:?}");
}

#[test]
fn supported_options_are_exactly_those_that_change_the_units() {
    use nix2dream_plugin_kit::testing::honoured_options;
    let honoured = honoured_options(|svc| files(deployment(vec![svc, service("db", &["db"])])).0);
    let mut declared = Systemd::info().supported_options;
    declared.sort();
    assert_eq!(declared, honoured);
}
