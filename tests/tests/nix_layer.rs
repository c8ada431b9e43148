//! The Nix layer (nix/): every core option's evaluation and its appearance
//! in `optionsSet`, `closureRoots`, every assertion message, and evaluation
//! errors with file and line. Runs the real `nix-instantiate` on
//! `nix/eval-file.nix` with nixpkgs' lib (skipped loudly without it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};

/// A temporary directory holding a `services.nix`, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "nix2dream-nix-layer-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn nix_instantiate(nixpkgs: &Path) -> Command {
    let mut c = Command::new("nix-instantiate");
    c.args(["--option", "build-users-group", ""])
        .arg("-I")
        .arg(format!("nixpkgs={}", nixpkgs.display()));
    c
}

/// Evaluate a services.nix file: the deployment JSON, or Nix's stderr.
fn eval_path(nixpkgs: &Path, file: &Path) -> Result<Value, String> {
    let out = nix_instantiate(nixpkgs)
        .args(["--eval", "--strict", "--json", "--read-write-mode"])
        .arg(nix2dream_e2e::repo_root().join("nix/eval-file.nix"))
        .arg("--argstr")
        .arg("file")
        .arg(file)
        .output()
        .expect("running nix-instantiate");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("nix-instantiate printed JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Evaluate `source` written as services.nix in a scratch directory
/// (with `extra` files beside it).
fn eval_with(
    nixpkgs: &Path,
    name: &str,
    source: &str,
    extra: &[(&str, &str)],
) -> Result<Value, String> {
    let s = Scratch::new(name);
    for (rel, text) in extra {
        s.write(rel, text);
    }
    let file = s.write("services.nix", source);
    eval_path(nixpkgs, &file)
}

fn eval_ok(nixpkgs: &Path, name: &str, source: &str) -> Value {
    eval_with(nixpkgs, name, source, &[]).unwrap_or_else(|e| panic!("evaluation failed:\n{e}"))
}

fn eval_err(nixpkgs: &Path, name: &str, source: &str) -> String {
    match eval_with(nixpkgs, name, source, &[]) {
        Ok(v) => panic!("evaluation succeeded, expected an error: {v:#}"),
        Err(e) => e,
    }
}

/// A deployment with one service `a` whose body is `body`.
fn one(body: &str) -> String {
    format!("{{ lib, ... }}: {{\n  name = \"t\";\n  services.a = {{\n{body}\n  }};\n}}\n")
}

fn options_set(v: &Value, service: &str) -> Vec<String> {
    v["services"][service]["optionsSet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// The host's list (the Nix modules must declare the same options).
use nix2dream_core_options::CORE_OPTIONS;

fn is_store_path(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("/nix/store/") else {
        return false;
    };
    rest.len() > 33 && rest.as_bytes()[32] == b'-' && !rest.contains('/')
}

#[test]
fn defaults_fill_every_field() {
    let Some(nixpkgs) = nix2dream_e2e::nixpkgs_or_skip("nix_layer::defaults_fill_every_field") else {
        return;
    };
    let v = eval_ok(
        &nixpkgs,
        "defaults",
        &one(r#"process.argv = [ "sleep" "1" ];"#),
    );
    assert_eq!(
        v,
        json!({
            "schema": "nix2dream/v1",
            "name": "t",
            "settings": {},
            "ignoreUnsupported": [],
            "volumes": {},
            "secrets": {},
            "services": { "a": {
                "description": null,
                "package": null,
                "process": { "argv": ["sleep", "1"] },
                "env": {},
                "path": [],
                "workingDirectory": null,
                "preStart": null,
                "configData": {},
                "volumes": {},
                "ports": {},
                "user": null,
                "group": null,
                "dependsOn": {},
                "healthcheck": null,
                "restart": "on-failure",
                "resources": { "cpus": null, "memoryMiB": null },
                "replicas": 1,
                "oneShot": false,
                "stopSignal": null,
                "stopTimeout": null,
                "secrets": {},
                "managers": {},
                "ignoreUnsupported": [],
                "optionsSet": ["process.argv"],
                "closureRoots": []
            }}
        })
    );
}

#[test]
fn every_option_is_evaluated_and_listed_as_set() {
    let Some(nixpkgs) =
        nix2dream_e2e::nixpkgs_or_skip("nix_layer::every_option_is_evaluated_and_listed_as_set")
    else {
        return;
    };
    let src = r#"{ lib, ... }: {
  name = "full";
  settings.compose = { network = "n"; flags = [ 1 true null 0.5 ]; };
  ignoreUnsupported = [ "resources" ];
  volumes.uploads.description = "shared";
  secrets.db-password = { file = "/run/keys/db"; kubernetes = { name = "db"; key = "password"; }; };
  services.db = {
    process.argv = [ "db" ];
    healthcheck.command = [ "true" ];
  };
  services.a = {
    description = "The A service";
    package = ./tool.sh;
    process.argv = [ "a" "--flag" ];
    env = { S = "x"; I = 42; B = false; T = true; };
    path = [ "/opt/tools" ];
    workingDirectory = "/srv/a";
    preStart = "echo one";
    configData."app.conf".text = "k = v";
    configData."sub/other.conf" = { path = "/etc/other.conf"; text = "x"; };
    configData.off = { enable = false; text = "ignored"; };
    volumes.data.path = "/var/lib/a";
    volumes.tmp = { path = /tmp/a-scratch; persistent = false; };
    volumes.up = { path = "/srv/uploads"; shared = "uploads"; };
    volumes.media = { path = "/srv/media"; hostPath = /srv/media-on-host; readOnly = true; };
    ports.http = { port = 8080; hostPort = 18080; };
    ports.dns = { port = 5353; protocol = "udp"; internal = true; };
    user = "alice";
    group = "staff";
    dependsOn.db.condition = "healthy";
    healthcheck = {
      http = { port = 8080; path = "/healthz"; };
      interval = 7; timeout = 2; retries = 9; startPeriod = 30;
    };
    restart = "always";
    resources = { cpus = 1.5; memoryMiB = 256; };
    replicas = 3;
    oneShot = true;
    stopSignal = "SIGINT";
    stopTimeout = 30;
    secrets.db-password.env = "DB_PASSWORD";
    managers.compose = { labels.x = "y"; n = 1; };
    managers.systemd.serviceConfig.Nice = 5;
    ignoreUnsupported = [ "healthcheck" "replicas" ];
  };
  imports = [ { services.a.preStart = "echo two"; } ];
}
"#;
    let v = eval_with(
        &nixpkgs,
        "full",
        src,
        &[("tool.sh", "#!/bin/sh\necho hi\n")],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        v["settings"],
        json!({ "compose": { "network": "n", "flags": [1, true, null, 0.5] } })
    );
    assert_eq!(v["ignoreUnsupported"], json!(["resources"]));
    assert_eq!(v["volumes"], json!({ "uploads": { "description": "shared" } }));
    assert_eq!(
        v["secrets"],
        json!({ "db-password": { "file": "/run/keys/db", "environment": null, "kubernetes": { "name": "db", "key": "password" } } })
    );
    assert_eq!(v["services"]["a"]["secrets"], json!({ "db-password": { "path": null, "env": "DB_PASSWORD" } }));
    let a = &v["services"]["a"];
    assert_eq!(a["description"], "The A service");
    let pkg = a["package"].as_str().unwrap();
    assert!(is_store_path(pkg) && pkg.ends_with("-tool.sh"), "{pkg}");
    assert_eq!(a["process"]["argv"], json!(["a", "--flag"]));
    assert_eq!(
        a["env"],
        json!({ "S": "x", "I": "42", "B": "false", "T": "true" })
    );
    assert_eq!(a["path"], json!(["/opt/tools"]));
    assert_eq!(a["workingDirectory"], "/srv/a");
    assert_eq!(a["preStart"], "echo one\necho two");
    assert_eq!(
        a["configData"],
        json!({
            "app.conf": { "path": "app.conf", "text": "k = v" },
            "sub/other.conf": { "path": "/etc/other.conf", "text": "x" }
        })
    );
    assert_eq!(
        a["volumes"],
        json!({
            "data": { "path": "/var/lib/a", "persistent": true, "shared": null, "hostPath": null, "readOnly": false },
            "tmp": { "path": "/tmp/a-scratch", "persistent": false, "shared": null, "hostPath": null, "readOnly": false },
            "up": { "path": "/srv/uploads", "persistent": true, "shared": "uploads", "hostPath": null, "readOnly": false },
            "media": { "path": "/srv/media", "persistent": true, "shared": null, "hostPath": "/srv/media-on-host", "readOnly": true }
        })
    );
    assert_eq!(
        a["ports"],
        json!({
            "http": { "port": 8080, "protocol": "tcp", "internal": false, "hostPort": 18080 },
            "dns": { "port": 5353, "protocol": "udp", "internal": true, "hostPort": null }
        })
    );
    assert_eq!(a["user"], "alice");
    assert_eq!(a["group"], "staff");
    assert_eq!(a["dependsOn"], json!({ "db": { "condition": "healthy" } }));
    assert_eq!(
        a["healthcheck"],
        json!({ "http": { "port": 8080, "path": "/healthz" }, "interval": 7, "timeout": 2, "retries": 9, "startPeriod": 30 })
    );
    assert_eq!(a["restart"], "always");
    assert_eq!(a["resources"], json!({ "cpus": 1.5, "memoryMiB": 256 }));
    assert_eq!(a["replicas"], 3);
    assert_eq!((&a["oneShot"], &a["stopSignal"], &a["stopTimeout"]), (&json!(true), &json!("SIGINT"), &json!(30)));
    assert_eq!(
        a["managers"],
        json!({ "compose": { "labels": { "x": "y" }, "n": 1 }, "systemd": { "serviceConfig": { "Nice": 5 } } })
    );
    assert_eq!(a["ignoreUnsupported"], json!(["healthcheck", "replicas"]));
    assert_eq!(options_set(&v, "a"), CORE_OPTIONS);
    assert_eq!(a["closureRoots"], json!([pkg]));

    let db = &v["services"]["db"];
    assert_eq!(
        db["healthcheck"],
        json!({ "command": ["true"], "interval": 10, "timeout": 5, "retries": 3, "startPeriod": 0 })
    );
    assert_eq!(options_set(&v, "db"), ["process.argv", "healthcheck"]);
}

#[test]
fn package_gives_argv_without_setting_it() {
    let Some(nixpkgs) = nix2dream_e2e::nixpkgs_or_skip("nix_layer::package_gives_argv_without_setting_it")
    else {
        return;
    };
    let src = r#"{ lib, ... }:
let
  drv = derivation { name = "hello-2.12"; builder = "/bin/sh"; system = builtins.currentSystem; };
in {
  name = "pkgs";
  services.drv.package = drv // { meta.mainProgram = "hi"; };
  services.file.package = ./bin/tool;
  services.dir.package = ./mytool;
  services.explicit = { package = drv // { meta.mainProgram = "hi"; }; process.argv = [ "x" ]; };
}
"#;
    let v = eval_with(
        &nixpkgs,
        "package",
        src,
        &[
            ("bin/tool", "#!/bin/sh\n"),
            ("mytool/bin/mytool", "#!/bin/sh\n"),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let s = &v["services"];
    let out = s["drv"]["package"].as_str().unwrap();
    assert!(is_store_path(out) && out.ends_with("-hello-2.12"), "{out}");
    assert_eq!(
        s["drv"]["process"]["argv"],
        json!([format!("{out}/bin/hi")])
    );
    assert_eq!(options_set(&v, "drv"), ["package"]);
    assert_eq!(s["drv"]["closureRoots"], json!([out]));

    let file = s["file"]["package"].as_str().unwrap();
    assert!(is_store_path(file) && file.ends_with("-tool"), "{file}");
    assert_eq!(s["file"]["process"]["argv"], json!([file]));

    let dir = s["dir"]["package"].as_str().unwrap();
    assert!(is_store_path(dir) && dir.ends_with("-mytool"), "{dir}");
    assert_eq!(
        s["dir"]["process"]["argv"],
        json!([format!("{dir}/bin/mytool")])
    );
    assert!(
        Path::new(dir).join("bin/mytool").is_file(),
        "--read-write-mode copies path literals to the store"
    );

    assert_eq!(s["explicit"]["process"]["argv"], json!(["x"]));
    assert_eq!(options_set(&v, "explicit"), ["package", "process.argv"]);
}

#[test]
fn closure_roots_come_from_paths_sources_and_string_context() {
    let Some(nixpkgs) =
        nix2dream_e2e::nixpkgs_or_skip("nix_layer::closure_roots_come_from_paths_sources_and_string_context")
    else {
        return;
    };
    let src = r#"{ lib, ... }:
let
  tools = derivation { name = "tools-1"; builder = "/bin/sh"; system = builtins.currentSystem; };
  curl = derivation { name = "curl-8"; builder = "/bin/sh"; system = builtins.currentSystem; };
in {
  name = "roots";
  services.a = {
    process.argv = [ "${curl}/bin/curl" "-s" ];
    path = [ tools "/usr/local" ];
    env.CONFIG = ./app.toml;
    env.PLAIN = "/nix/store/00000000000000000000000000000000-not-a-dependency";
    configData."x.conf".source = ./x.conf;
    managers.custom.script = "${tools}/bin/run";
  };
}
"#;
    let v = eval_with(
        &nixpkgs,
        "roots",
        src,
        &[("app.toml", "a = 1\n"), ("x.conf", "x\n")],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let a = &v["services"]["a"];
    let argv0 = a["process"]["argv"][0].as_str().unwrap();
    let curl = argv0.strip_suffix("/bin/curl").unwrap();
    let tools = a["path"][0].as_str().unwrap();
    assert_eq!(a["path"][1], "/usr/local");
    let config = a["env"]["CONFIG"].as_str().unwrap();
    let source = a["configData"]["x.conf"]["source"].as_str().unwrap();
    assert!(config.ends_with("-app.toml") && source.ends_with("-x.conf"));
    assert_eq!(
        a["managers"]["custom"]["script"],
        json!(format!("{tools}/bin/run"))
    );
    let mut expected = vec![curl, tools, config, source];
    expected.sort();
    assert_eq!(a["closureRoots"], json!(expected));
    for p in expected {
        assert!(is_store_path(p), "{p}");
    }
    assert!(
        Path::new(source).is_file(),
        "configData sources are added to the store"
    );
}

#[test]
fn options_set_counts_user_definitions_only() {
    let Some(nixpkgs) = nix2dream_e2e::nixpkgs_or_skip("nix_layer::options_set_counts_user_definitions_only")
    else {
        return;
    };
    let src = r#"{ lib, ... }: {
  name = "prio";
  services.a = {
    process.argv = [ "x" ];
    replicas = lib.mkDefault 1;
    restart = "on-failure";
    env = lib.mkIf false { A = "1"; };
  };
}
"#;
    let v = eval_ok(&nixpkgs, "prio", src);
    assert_eq!(
        options_set(&v, "a"),
        ["process.argv", "restart", "replicas"]
    );
}

#[test]
fn modules_merge_and_files_may_be_attrsets() {
    let Some(nixpkgs) = nix2dream_e2e::nixpkgs_or_skip("nix_layer::modules_merge_and_files_may_be_attrsets")
    else {
        return;
    };
    let s = Scratch::new("imports");
    s.write("extra.nix", "{ services.a.env.FROM_IMPORT = \"yes\"; }\n");
    let file = s.write(
        "services.nix",
        "{ name = \"m\"; imports = [ ./extra.nix ]; services.a.process.argv = [ \"x\" ]; }\n",
    );
    let v = eval_path(&nixpkgs, &file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["services"]["a"]["env"], json!({ "FROM_IMPORT": "yes" }));
    assert_eq!(options_set(&v, "a"), ["process.argv", "env"]);
}

/// Every failed check is reported at once, each naming service and option.
#[test]
fn every_assertion_message_is_listed() {
    let Some(nixpkgs) = nix2dream_e2e::nixpkgs_or_skip("nix_layer::every_assertion_message_is_listed") else {
        return;
    };
    let src = r#"{ lib, ... }: {
  name = "bad";
  services.a = {
    process.argv = [ ];
    dependsOn = { b = { }; a = { }; ghost = { }; };
    ports.p.port = 80;
    workingDirectory = "relative/dir";
    volumes.v.path = "data";
  };
  services.b = {
    process.argv = [ "" ];
    dependsOn.c.condition = "healthy";
    ports.q.port = 80;
    configData.none = { };
    configData.both = { text = "a"; source = ./services.nix; };
    healthcheck = { };
  };
  services.c = {
    dependsOn.a = { };
    dependsOn.d.condition = "healthy";
    healthcheck = { command = [ ]; http.port = 3; };
  };
  services.d.process.argv = [ "d" ];
  services.Bad_.process.argv = [ "x" ];
}
"#;
    let err = eval_err(&nixpkgs, "assertions", src);
    assert!(err.contains("Failed assertions:"), "{err}");
    let expected = [
        "- services.Bad_: invalid service name \"Bad_\"",
        "- services.a.process.argv: must not be empty (defined in `",
        "- services.a.workingDirectory: \"relative/dir\" is not an absolute path",
        "- services.a.volumes.v.path: \"data\" is not an absolute path",
        "- services.b.process.argv: the program (first element) must not be an empty string",
        "- services.b.configData.none: set exactly one of `text` and `source` (neither is set)",
        "- services.b.configData.both: set exactly one of `text` and `source` (both are set)",
        "- services.b.healthcheck: set exactly one of `command` and `http` (neither is set)",
        "- services.c.process.argv: no command to run; set `process.argv` (or `package`",
        "- services.c.healthcheck: set exactly one of `command` and `http` (both are set)",
        "- services.c.healthcheck.command: must not be empty",
        "- services.a.dependsOn.a: a service cannot depend on itself.",
        "- services.a.dependsOn.ghost: there is no service \"ghost\" (services: Bad_, a, b, c, d).",
        "- services.c.dependsOn.d.condition: \"healthy\" needs a healthcheck on services.d",
        "- services.a.ports.p: port 80/tcp is also used by services.b.ports.q;",
    ];
    for e in expected {
        assert!(err.contains(e), "missing {e:?} in:\n{err}");
    }
    let listed = err
        .lines()
        .filter(|l| l.trim_start().starts_with("- "))
        .count();
    assert_eq!(listed, expected.len(), "{err}");
    assert!(
        err.contains("services.nix'"),
        "messages say where the option was defined:\n{err}"
    );
}

#[test]
fn no_services_is_an_assertion() {
    let Some(nixpkgs) = nix2dream_e2e::nixpkgs_or_skip("nix_layer::no_services_is_an_assertion") else {
        return;
    };
    let err = eval_err(&nixpkgs, "empty", "{ name = \"empty\"; }\n");
    assert!(
        err.contains("- services: the deployment has no service"),
        "{err}"
    );
}

#[test]
fn same_port_different_protocol_is_fine_and_cycles_are_reported_once() {
    let Some(nixpkgs) = nix2dream_e2e::nixpkgs_or_skip(
        "nix_layer::same_port_different_protocol_is_fine_and_cycles_are_reported_once",
    ) else {
        return;
    };
    let ok = eval_ok(
        &nixpkgs,
        "udp",
        r#"{ name = "p"; services.a = { process.argv = [ "a" ]; ports.t.port = 53; };
             services.b = { process.argv = [ "b" ]; ports.u = { port = 53; protocol = "udp"; }; }; }"#,
    );
    assert_eq!(ok["services"]["b"]["ports"]["u"]["protocol"], "udp");
    // A cycle is the host's to find (linear; the Nix layer has no linear
    // way): `nix2dream eval` names it once, as a bad input.
    let s = Scratch::new("cycle2");
    let file = s.write(
        "services.nix",
        r#"{ name = "p"; services.x = { process.argv = [ "x" ]; dependsOn.y = { }; };
             services.y = { process.argv = [ "y" ]; dependsOn.x = { }; }; }"#,
    );
    let r = nix2dream_e2e::run(nix2dream_e2e::nix2dream().arg("eval").arg(&file).arg("--nixpkgs").arg(&nixpkgs));
    assert_eq!(r.code, Some(3), "{}", r.stderr);
    assert!(r.stderr.contains("dependency cycle: x -> y -> x"), "{}", r.stderr);
    assert_eq!(r.stderr.matches("dependency cycle").count(), 1, "{}", r.stderr);
}

#[test]
fn type_errors_name_the_option_and_file() {
    let Some(nixpkgs) = nix2dream_e2e::nixpkgs_or_skip("nix_layer::type_errors_name_the_option_and_file")
    else {
        return;
    };
    for (body, option) in [
        (
            "process.argv = [ \"x\" ]; replicas = 0;",
            "services.a.replicas",
        ),
        (
            "process.argv = [ \"x\" ]; restart = \"sometimes\";",
            "services.a.restart",
        ),
        (
            "process.argv = [ \"x\" ]; ports.p.port = 70000;",
            "services.a.ports.p.port",
        ),
        (
            "process.argv = [ \"x\" ]; ignoreUnsupported = [ \"nope\" ];",
            "services.a.ignoreUnsupported",
        ),
        (
            "process.argv = [ \"x\" ]; healthcheck = { command = [ \"x\" ]; interval = 0; };",
            "services.a.healthcheck.interval",
        ),
    ] {
        let err = eval_err(&nixpkgs, "types", &one(body));
        assert!(err.contains(&format!("`{option}")), "{option}: {err}");
        assert!(err.contains("services.nix"), "{option}: {err}");
    }
    let err = eval_err(
        &nixpkgs,
        "badname",
        "{ name = \"Not Valid\"; services.a.process.argv = [ \"x\" ]; }",
    );
    assert!(err.contains("`name'"), "{err}");
}

#[test]
fn evaluation_errors_give_file_and_line() {
    let Some(nixpkgs) = nix2dream_e2e::nixpkgs_or_skip("nix_layer::evaluation_errors_give_file_and_line")
    else {
        return;
    };
    let err = eval_err(
        &nixpkgs,
        "syntax",
        "{ lib, ... }: {\n  name = \"x\"\n  services = { };\n}\n",
    );
    assert!(err.contains("syntax error"), "{err}");
    assert!(err.contains("services.nix:3:"), "{err}");
    let err = eval_err(
        &nixpkgs,
        "undefined",
        "{ lib, ... }: {\n  name = \"x\";\n  services.a.process.argv = [ foo ];\n}\n",
    );
    assert!(err.contains("undefined variable 'foo'"), "{err}");
    assert!(err.contains("services.nix:3:"), "{err}");
}

#[test]
fn pkgs_argument_explains_itself_without_full_nixpkgs() {
    let Some(nixpkgs) =
        nix2dream_e2e::nixpkgs_or_skip("nix_layer::pkgs_argument_explains_itself_without_full_nixpkgs")
    else {
        return;
    };
    if nixpkgs.join("pkgs/top-level/all-packages.nix").exists() {
        return; // a full nixpkgs: `pkgs` works
    }
    let err = eval_err(
        &nixpkgs,
        "pkgs",
        "{ pkgs, ... }: { name = \"x\"; services.a.package = pkgs.hello; }\n",
    );
    assert!(
        err.contains("the module argument `pkgs' is not available"),
        "{err}"
    );
}

#[test]
fn demo_deployment_json_is_the_evaluation_of_its_services_nix() {
    let Some(nixpkgs) = nix2dream_e2e::nixpkgs_or_skip(
        "nix_layer::demo_deployment_json_is_the_evaluation_of_its_services_nix",
    ) else {
        return;
    };
    let demo = nix2dream_e2e::repo_root().join("examples/demo");
    let evaluated =
        eval_path(&nixpkgs, &demo.join("services.nix")).unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(demo.join("deployment.json")).unwrap();
    let committed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        evaluated, committed,
        "regenerate examples/demo/deployment.json"
    );
    assert!(text.ends_with("}\n"));
}

#[test]
fn options_doc_lists_every_core_option() {
    let Some(nixpkgs) = nix2dream_e2e::nixpkgs_or_skip("nix_layer::options_doc_lists_every_core_option")
    else {
        return;
    };
    let out = nix_instantiate(&nixpkgs)
        .args(["--eval", "--strict", "--json"])
        .arg(nix2dream_e2e::repo_root().join("nix/options-doc.nix"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let opts = doc.as_array().unwrap();
    let names: Vec<&str> = opts.iter().map(|o| o["name"].as_str().unwrap()).collect();
    for top in ["name", "services", "settings", "ignoreUnsupported"] {
        assert!(names.contains(&top), "{top} missing: {names:?}");
    }
    for core in CORE_OPTIONS
        .iter()
        .chain(&["managers", "ignoreUnsupported"])
    {
        // Options of each port and volume are declared under `ports.<name>`, `volumes.<name>`.
        let n = match core.split_once('.') {
            Some((outer @ ("ports" | "volumes"), sub)) => format!("services.<name>.{outer}.<name>.{sub}"),
            _ => format!("services.<name>.{core}"),
        };
        assert!(names.contains(&n.as_str()), "{n} missing: {names:?}");
    }
    for o in opts {
        let name = o["name"].as_str().unwrap();
        assert!(
            !name.contains("assertions")
                && !name.contains("_module")
                && !name.contains("_nix2dream"),
            "{name}"
        );
        assert!(
            !o["description"].as_str().unwrap().trim().is_empty(),
            "{name} has no description"
        );
        assert!(o["type"].is_string(), "{name}");
        for d in o["declarations"].as_array().unwrap() {
            assert!(
                d.as_str().unwrap().starts_with("nix/modules/"),
                "{name}: {d}"
            );
        }
    }
}

#[test]
fn eval_services_works_from_a_users_own_default_nix() {
    let Some(nixpkgs) = nix2dream_e2e::nixpkgs_or_skip("nix_layer::eval_services_works_from_a_users_own_default_nix")
    else {
        return;
    };
    // As nix/README.md shows: import nix2dream's nix/, pass lib and several
    // modules (merged by the module system), print the JSON.
    let s = Scratch::new("default-nix");
    s.write("services.nix", "{ ... }: { name = \"shop\"; services.web.process.argv = [ \"web\" \"--port\" \"8080\" ]; }\n");
    s.write("production.nix", "{ lib, ... }: { services.web.env.MODE = \"production\"; services.web.replicas = lib.mkForce 3; }\n");
    let default_nix = s.write(
        "default.nix",
        &format!(
            "(import {}).evalServices {{\n  lib = import <nixpkgs/lib>;\n  modules = [ ./services.nix ./production.nix ];\n}}\n",
            nix2dream_e2e::repo_root().join("nix").display()
        ),
    );
    let out = nix_instantiate(&nixpkgs)
        .args(["--eval", "--strict", "--json"])
        .arg(&default_nix)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let web = &v["services"]["web"];
    assert_eq!(v["name"], "shop");
    assert_eq!(web["process"]["argv"], json!(["web", "--port", "8080"]));
    assert_eq!(web["env"], json!({"MODE": "production"}));
    assert_eq!(web["replicas"], 3);
    assert_eq!(options_set(&v, "web"), ["process.argv", "env", "replicas"]);
    // What it prints is a deployment the host accepts as it is.
    let file = s.write("deployment.json", &String::from_utf8_lossy(&out.stdout));
    let dist = std::env::var_os("NIX2DREAM_DIST").expect("NIX2DREAM_DIST (run through ./x test)");
    let check = Command::new(Path::new(&dist).join("bin/nix2dream")).arg("eval").arg(&file).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
}

/// A service module written for NixOS modular services (`_class =
/// "service"`, its own options, `imports`, `meta.maintainers`, reading the
/// manager-given `configData.<name>.path`, sub-`services`, its own assertions
/// and warnings) is usable as it is: `services.x = { imports = [ ./m.nix ]; m = { … }; }`.
#[test]
fn nixos_modular_service_modules_work_as_they_are() {
    let Some(nixpkgs) = nix2dream_e2e::nixpkgs_or_skip("nix_layer::nixos_modular_service_modules_work_as_they_are") else {
        return;
    };
    let module = r#"{ lib, config, options, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.ghostunnel;
in
{
  _class = "service";
  options.ghostunnel = {
    listen = mkOption { type = types.str; description = "Address to listen on."; };
    target = mkOption { type = types.str; description = "Backend address."; };
  };
  config = {
    meta.maintainers = [ ];
    process.argv = [ "/bin/ghostunnel" "server" "--listen" cfg.listen "--target" cfg.target
      "--keystore" config.configData."ssl/cert.pem".path ];
    configData."ssl/cert.pem".text = "PEM";
    assertions = [ { assertion = cfg.listen != ""; message = "ghostunnel.listen must not be empty"; } ];
    warnings = lib.optional (lib.hasPrefix "0.0.0.0" cfg.listen) "listening on every address";
    services.metrics.process.argv = [ "/bin/exporter" cfg.target ];
  };
}
"#;
    let ok = r#"{
  name = "t";
  services.tunnel = {
    imports = [ ./ghostunnel.nix ];
    ghostunnel = { listen = "0.0.0.0:443"; target = "backend:80"; };
  };
  services.web = { process.argv = [ "web" ]; dependsOn.tunnel-metrics = { }; };
}
"#;
    let s = Scratch::new("modular");
    s.write("ghostunnel.nix", module);
    let file = s.write("services.nix", ok);
    let out = nix_instantiate(&nixpkgs)
        .args(["--eval", "--strict", "--json", "--read-write-mode"])
        .arg(nix2dream_e2e::repo_root().join("nix/eval-file.nix"))
        .arg("--argstr")
        .arg("file")
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["services"]["tunnel"]["process"]["argv"],
        json!(["/bin/ghostunnel", "server", "--listen", "0.0.0.0:443", "--target", "backend:80", "--keystore", "ssl/cert.pem"])
    );
    assert_eq!(v["services"]["tunnel"]["configData"]["ssl/cert.pem"], json!({ "path": "ssl/cert.pem", "text": "PEM" }));
    // The sub-service is a service of the deployment, named parent-child.
    assert_eq!(v["services"]["tunnel-metrics"]["process"]["argv"], json!(["/bin/exporter", "backend:80"]));
    assert_eq!(v["services"]["web"]["dependsOn"], json!({ "tunnel-metrics": { "condition": "started" } }));
    // The module's warning names the service it belongs to.
    assert!(stderr.contains("warning: services.tunnel: listening on every address"), "{stderr}");

    // Its assertion too; a NixOS module in a service is refused by class;
    // a sub-service and a service of the same flat name clash.
    let bad = r#"{
  name = "t";
  services.tunnel = {
    imports = [ ./ghostunnel.nix ];
    ghostunnel = { listen = ""; target = "b:1"; };
  };
  services.tunnel-metrics.process.argv = [ "x" ];
}
"#;
    let err = eval_with(&nixpkgs, "modular-bad", bad, &[("ghostunnel.nix", module)]).unwrap_err();
    assert!(err.contains("- services.tunnel: ghostunnel.listen must not be empty"), "{err}");
    assert!(
        err.contains("the name \"tunnel-metrics\" is given twice (services.tunnel.services.metrics and services.tunnel-metrics)"),
        "{err}"
    );
    let nixos = r#"{ name = "t"; services.a = { imports = [ { _class = "nixos"; } ]; process.argv = [ "x" ]; }; }"#;
    let err = eval_with(&nixpkgs, "modular-class", nixos, &[]).unwrap_err();
    assert!(err.contains("\"nixos\"") && err.contains("\"service\""), "{err}");
}

/// A service's address comes from the service it names (a typo is an
/// evaluation error naming the attribute); the deployment-wide env is
/// merged under each service's own and counts as set.
#[test]
fn service_addresses_and_deployment_env() {
    let Some(nixpkgs) = nix2dream_e2e::nixpkgs_or_skip("nix_layer::service_addresses_and_deployment_env") else {
        return;
    };
    let src = r#"{ config, ... }: {
  name = "t";
  env = { TZ = "UTC"; SHARED = "deployment"; };
  services.backend = { process.argv = [ "b" ]; ports.http.port = 18000; };
  services.proxy = {
    process.argv = [ "proxy" "--to" config.services.backend.ports.http.address ];
    env.BACKEND = "http://${config.services.backend.ports.http.host}:18000/";
    env.SHARED = "own";
  };
}
"#;
    let v = eval_ok(&nixpkgs, "addresses", src);
    let proxy = &v["services"]["proxy"];
    assert_eq!(proxy["process"]["argv"], json!(["proxy", "--to", "@@nix2dream:host:backend@@:18000"]));
    assert_eq!(proxy["env"], json!({ "BACKEND": "http://@@nix2dream:host:backend@@:18000/", "SHARED": "own", "TZ": "UTC" }));
    assert_eq!(v["services"]["backend"]["env"], json!({ "SHARED": "deployment", "TZ": "UTC" }));
    assert_eq!(options_set(&v, "backend"), ["process.argv", "ports", "env"], "the deployment's env counts as set");
    assert!(v.get("env").is_none(), "merged, not emitted: {v:#}");

    let err = eval_err(&nixpkgs, "address-typo", &src.replace("services.backend.ports.http.address", "services.backnd.ports.http.address"));
    assert!(err.contains("backnd"), "{err}");
    let err = eval_err(&nixpkgs, "port-typo", &src.replace("backend.ports.http.host", "backend.ports.htp.host"));
    assert!(err.contains("htp"), "{err}");
}

/// A shared volume must be declared at the top level: a misspelt one is an
/// assertion naming the service, the volume and the declared ones.
#[test]
fn a_shared_volume_must_be_declared() {
    let Some(nixpkgs) = nix2dream_e2e::nixpkgs_or_skip("nix_layer::a_shared_volume_must_be_declared") else {
        return;
    };
    let err = eval_err(
        &nixpkgs,
        "shared-typo",
        r#"{ ... }: {
  name = "t";
  volumes.uploads = { };
  services.a = { process.argv = [ "a" ]; volumes.u = { path = "/u"; shared = "upload"; }; };
}
"#,
    );
    assert!(err.contains("services.a.volumes.u.shared: the deployment has no volume \"upload\"") && err.contains("volumes: uploads"), "{err}");
}

/// A secret's file is a string, never a path literal (which Nix would copy
/// into the world-readable store); a service's secret must be declared.
#[test]
fn secrets_stay_out_of_the_store_and_must_be_declared() {
    let Some(nixpkgs) = nix2dream_e2e::nixpkgs_or_skip("nix_layer::secrets_stay_out_of_the_store_and_must_be_declared") else {
        return;
    };
    let literal = eval_err(
        &nixpkgs,
        "secret-literal",
        r#"{ ... }: { name = "t"; secrets.k.file = ./key; services.a.process.argv = [ "a" ]; }
"#,
    );
    assert!(literal.contains("secrets.k.file"), "{literal}");
    let undeclared = eval_err(
        &nixpkgs,
        "secret-undeclared",
        r#"{ ... }: { name = "t"; secrets.token.file = "/run/keys/t"; services.a = { process.argv = [ "a" ]; secrets.tokn.env = "T"; }; }
"#,
    );
    assert!(undeclared.contains("services.a.secrets.tokn: the deployment has no secret \"tokn\"") && undeclared.contains("secrets: token"), "{undeclared}");
}
