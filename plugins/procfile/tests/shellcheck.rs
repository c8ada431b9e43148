//! Every launcher passes `shellcheck -s sh` with no findings, whatever data
//! it carries.

mod common;
use common::*;
use nix2dream_plugin_kit::Service;
use std::process::Command;

/// Runs the real shellcheck on every launcher of `services`; fails with its output.
fn shellcheck_all(services: Vec<Service>) {
    let tmp = TempDir::new("shellcheck");
    let r = render_ok(deployment(services));
    write_out(&r, tmp.path());
    let launchers: Vec<String> = files(&r).into_iter().filter(|(_, (_, x))| *x).map(|(p, _)| p).collect();
    assert!(!launchers.is_empty());
    let out = Command::new("shellcheck")
        .args(["-s", "sh", "--severity=style", "--norc"])
        .args(&launchers)
        .current_dir(tmp.path())
        .output()
        .expect("shellcheck must be installed (it is /usr/bin/shellcheck here)");
    assert!(
        out.status.success(),
        "shellcheck found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_minimal_launcher_is_clean() {
    shellcheck_all(vec![service("web", &["python3", "-m", "http.server"])]);
}

#[test]
fn a_launcher_using_every_option_is_clean() {
    let svc = service("web", &["/nix/store/abc-app/bin/app", "--config", "app.conf", "$NOT_EXPANDED"])
        .description("The web app.\nSecond line; shellcheck disable=all\r\n")
        .env("A", "1")
        .env("B", "two words")
        .path_entry("/nix/store/abc-coreutils")
        .path_entry("/nix/store/def-with space/")
        .working_directory("/var/lib/web")
        .volume("data", "/var/lib/web/data")
        .volume("cache", "/var/cache/web app")
        .text_file("app", "app.conf", "listen = $PORT\n")
        .text_file("abs", "/etc/web/abs.conf", "x")
        .settings(r#"{"allowHostConfigPaths": true}"#)
        .source_file("src", "sub/from-store.conf", "/nix/store/xyz-conf")
        .port("http", 8080)
        .port("metrics", 9100)
        .pre_start("mkdir -p \"$HOME/x\"\necho `date`\n");
    shellcheck_all(vec![svc]);
}

#[test]
fn hostile_data_in_every_field_is_clean() {
    let mut services = Vec::new();
    for (i, h) in HOSTILE.iter().enumerate() {
        let non_empty = if h.is_empty() { "x" } else { h };
        let svc = service(&format!("s{i}"), &["prog", h, h])
            .description(h)
            .env("VALUE", h)
            .path_entry(&format!("/nix/store/{}", non_empty.replace(':', "")))
            .working_directory(&format!("/srv/{h}"))
            .volume("v", &format!("/vol/{h}"))
            .text_file("t", &format!("dir {non_empty}/file"), h)
            .text_file("t2", &format!("/abs/{non_empty}"), &format!("{h}{h}\n{h}"))
            .source_file("s", "src.conf", &format!("/nix/store/{non_empty}"))
            .port(&format!("p{h}"), 1000)
            .pre_start(h)
            // t2 is an absolute host path: written only on request.
            .settings(r#"{"allowHostConfigPaths": true}"#);
        services.push(svc);
    }
    shellcheck_all(services);
}
