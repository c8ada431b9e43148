//! The `nix2dream` command as CI pipelines use it: capability warnings,
//! `--allow-unsupported`, `--strict`, `--check`, input errors, the output
//! directory's safety rules, plugin discovery and the compiled-plugin cache.

use nix2dream_e2e::*;
use serde_json::json;
use std::path::{Path, PathBuf};

struct Setup {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    out: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_owned();
    Setup { out: root.join("out"), root, _tmp: tmp }
}

/// web sets a healthcheck and replicas, which the procfile plugin ignores.
fn services() -> serde_json::Value {
    json!({
        "web": {"process": {"argv": ["python3", "-m", "http.server"]}, "env": {"A": "1"},
                "healthcheck": {"command": ["true"]}, "replicas": 2},
        "db": {"process": {"argv": ["sleep", "1000"]}},
    })
}

fn render(input: &Path, out: &Path, extra: &[&str]) -> Run {
    run(nix2dream().args(["render", "--plugin", "procfile"]).arg(input).arg("--out").arg(out).args(extra))
}

const HEALTH_WARNING: &str = r#"warning: service "web" sets `healthcheck`, which plugin procfile@0.1.0 does not support"#;
const REPLICAS_WARNING: &str = r#"warning: service "web" sets `replicas`, which plugin procfile@0.1.0 does not support"#;

#[test]
fn ignored_options_are_warned_about_by_service_option_and_plugin() {
    let s = setup();
    let input = write_deployment(&s.root, services(), json!({}));
    let r = render(&input, &s.out, &[]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains(HEALTH_WARNING) && r.stderr.contains(REPLICAS_WARNING), "{}", r.stderr);
    assert!(r.stderr.contains("--allow-unsupported healthcheck"), "the warning must say how to silence it");
    assert!(!r.stderr.contains(r#"service "db""#), "db sets nothing unsupported:\n{}", r.stderr);
    assert!(s.out.join("Procfile").is_file());
}

#[test]
fn allow_unsupported_silences_only_the_named_option() {
    let s = setup();
    let input = write_deployment(&s.root, services(), json!({}));
    let r = render(&input, &s.out, &["--allow-unsupported", "healthcheck"]);
    assert!(r.ok);
    assert!(!r.stderr.contains(HEALTH_WARNING) && r.stderr.contains(REPLICAS_WARNING), "{}", r.stderr);
    // The deployment and the service can silence options too.
    let input = write_deployment(
        &s.root,
        json!({"web": {"process": {"argv": ["x"]}, "healthcheck": {"command": ["true"]}, "replicas": 2, "ignoreUnsupported": ["replicas"]}}),
        json!({"ignoreUnsupported": ["healthcheck"]}),
    );
    let r = render(&input, &s.out, &["--strict"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
}

#[test]
fn strict_turns_ignored_options_into_an_error_and_writes_nothing() {
    let s = setup();
    let input = write_deployment(&s.root, services(), json!({}));
    let r = render(&input, &s.out, &["--strict"]);
    assert!(!r.ok);
    assert!(r.stderr.contains("nothing was written"), "{}", r.stderr);
    assert!(r.stderr.contains(r#"service "web" sets `healthcheck`"#) && r.stderr.contains("[--strict]"), "{}", r.stderr);
    assert!(!s.out.exists(), "a strict failure created the output directory");
    let r = render(&input, &s.out, &["--strict", "--allow-unsupported", "healthcheck", "--allow-unsupported", "replicas"]);
    assert!(r.ok, "{}", r.stderr);
}

#[test]
fn allow_unsupported_rejects_unknown_option_names() {
    let s = setup();
    let input = write_deployment(&s.root, services(), json!({}));
    let r = render(&input, &s.out, &["--allow-unsupported", "healthchek"]);
    assert!(!r.ok);
    assert!(r.stderr.contains("healthchek: not a core option") && r.stderr.contains("healthcheck"), "{}", r.stderr);
}

#[test]
fn check_reports_drift_without_writing() {
    let s = setup();
    let input = write_deployment(&s.root, services(), json!({}));
    let r = render(&input, &s.out, &["--check"]);
    assert_eq!(r.code, Some(1), "a missing output directory is drift");
    assert!(!s.out.exists(), "--check wrote something");

    assert!(render(&input, &s.out, &[]).ok);
    let r = render(&input, &s.out, &["--check"]);
    assert!(r.ok && r.stderr.contains("is up to date"), "{}", r.stderr);

    std::fs::write(s.out.join("Procfile"), "edited by hand\n").unwrap();
    std::fs::set_permissions(s.out.join("bin/db"), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let before = snapshot(&s.out);
    let r = render(&input, &s.out, &["--check"]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("Procfile: contents differ") && r.stderr.contains("bin/db: executable bit differs"), "{}", r.stderr);
    assert_eq!(snapshot(&s.out), before, "--check changed the output");

    // A service that is gone leaves a stale launcher: drift too.
    assert!(render(&input, &s.out, &[]).ok);
    let input = write_deployment(&s.root, json!({"web": services()["web"]}), json!({}));
    let r = render(&input, &s.out, &["--check"]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("bin/db: no longer rendered (stale)"), "{}", r.stderr);
}

#[test]
fn a_rerender_removes_only_files_it_wrote_itself() {
    let s = setup();
    let input = write_deployment(&s.root, services(), json!({}));
    assert!(render(&input, &s.out, &[]).ok);
    std::fs::write(s.out.join("bin/notes.txt"), "mine").unwrap();
    let input = write_deployment(&s.root, json!({"web": services()["web"]}), json!({}));
    let r = render(&input, &s.out, &[]);
    assert!(r.ok, "{}", r.stderr);
    assert!(!s.out.join("bin/db").exists(), "the stale launcher stayed");
    assert!(s.out.join("bin/web").exists());
    assert_eq!(std::fs::read_to_string(s.out.join("bin/notes.txt")).unwrap(), "mine");
}

#[test]
fn a_file_the_user_wrote_is_never_overwritten_without_force() {
    let s = setup();
    let input = write_deployment(&s.root, services(), json!({}));
    std::fs::create_dir_all(&s.out).unwrap();
    std::fs::write(s.out.join("Procfile"), "the user's Procfile\n").unwrap();
    let r = render(&input, &s.out, &[]);
    assert!(!r.ok);
    assert!(r.stderr.contains("Procfile exists and was not written by nix2dream") && r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(s.out.join("Procfile")).unwrap(), "the user's Procfile\n");
    assert!(!s.out.join("bin").exists(), "a refused render wrote launchers");
    let r = render(&input, &s.out, &["--force"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(std::fs::read_to_string(s.out.join("Procfile")).unwrap().contains("web: "));
}

fn input_error(json_text: &str) -> String {
    let s = setup();
    let input = s.root.join("deployment.json");
    std::fs::write(&input, json_text).unwrap();
    let r = render(&input, &s.out, &[]);
    assert!(!r.ok);
    assert!(!s.out.exists(), "bad input created the output directory");
    assert!(r.stderr.contains("deployment.json"), "the error does not name the input:\n{}", r.stderr);
    r.stderr
}

#[test]
fn malformed_input_errors_name_the_field() {
    let ok = r#"{"schema":"nix2dream/v1","name":"t","services":{"web":{"process":{"argv":["x"]}}}}"#;
    assert!(input_error("{\"schema\": ").contains("not valid JSON"));
    assert!(input_error(&ok.replace("nix2dream/v1", "nix2dream/v7")).contains("schema: expected \"nix2dream/v1\""));
    let e = input_error(&ok.replace(r#"["x"]"#, r#""x""#));
    assert!(e.contains("services.web.process.argv: invalid type"), "{e}");
    let e = input_error(&ok.replace(r#""process""#, r#""ports":{"http":{"port":"80"}},"process""#));
    assert!(e.contains("services.web.ports.http.port: invalid type: string \"80\""), "{e}");
    let e = input_error(&ok.replace(r#""process""#, r#""enviroment":{},"process""#));
    assert!(e.contains("services.web.enviroment: unknown field `enviroment`, expected one of"), "{e}");
    let e = input_error(&ok.replace(r#""process""#, r#""restart":"sometimes","process""#));
    assert!(e.contains("services.web.restart: unknown variant `sometimes`"), "{e}");
    let e = input_error(&ok.replace(r#""process""#, r#""dependsOn":{"db":{}},"process""#));
    assert!(e.contains("services.web.dependsOn.db: no service named \"db\""), "{e}");
}

#[test]
fn a_missing_input_or_plugin_is_named() {
    let s = setup();
    let r = render(&s.root.join("nope.json"), &s.out, &[]);
    assert!(!r.ok && r.stderr.contains("nope.json"), "{}", r.stderr);
    let input = write_deployment(&s.root, services(), json!({}));
    let r = run(nix2dream().args(["render", "--plugin", "nomad"]).arg(&input).arg("--out").arg(&s.out));
    assert!(!r.ok && r.stderr.contains("no plugin named \"nomad\""), "{}", r.stderr);
    assert!(r.stderr.contains("Known: compose, docker, k8s, nixos, procfile, systemd, vm."), "the error lists the bundled plugins: {}", r.stderr);
}

#[test]
fn several_plugins_render_into_one_folder_each() {
    let s = setup();
    let input = write_deployment(
        &s.root,
        services(),
        json!({"settings": {"hostile": {"behaviour": "files", "files": {"hello.txt": "hi"}}}}),
    );
    let r = run(nix2dream()
        .args(["render", "--plugin", "procfile", "--plugin"])
        .arg(test_plugin("hostile"))
        .arg(&input)
        .arg("--out")
        .arg(&s.out));
    assert!(r.ok, "{}", r.stderr);
    assert!(s.out.join("procfile/Procfile").is_file() && s.out.join("hostile/hello.txt").is_file());
    // Each plugin's own settings reach it, and each warns for itself.
    assert!(r.stderr.contains("plugin hostile@0.1.0 does not support") && r.stderr.contains("plugin procfile@0.1.0 does not support"));
}

#[test]
fn plugins_list_and_inspect_show_bundled_and_path_plugins() {
    let r = run(nix2dream().args(["plugins", "list"]).env("NIX2DREAM_PLUGIN_PATH", test_plugin("hostile").parent().unwrap()));
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stdout.contains("procfile") && r.stdout.contains("bundled"), "{}", r.stdout);
    assert!(r.stdout.contains("hostile") && r.stdout.contains("NIX2DREAM_PLUGIN_PATH"), "{}", r.stdout);

    let r = run(nix2dream().args(["plugins", "inspect", "procfile"]));
    assert!(r.ok, "{}", r.stderr);
    let line = |key: &str| r.stdout.lines().find(|l| l.starts_with(key)).unwrap_or_default().to_owned();
    assert!(line("contract:").contains("nix2dream:manager@0.4.0"), "{}", r.stdout);
    assert!(line("supports:").contains("process.argv") && line("supports:").contains("configData"), "{}", r.stdout);
    assert!(line("ignores:").contains("healthcheck") && line("ignores:").contains("replicas"), "{}", r.stdout);
    assert!(r.stdout.split("usage:").nth(1).is_some_and(|u| u.contains("honcho")), "{}", r.stdout);
    assert!(r.stdout.contains("settings schema:") && r.stdout.contains("binDir"), "{}", r.stdout);
}

#[test]
fn a_second_load_comes_from_the_cache_and_a_damaged_cache_is_rebuilt() {
    let cache = tempfile::tempdir().unwrap();
    let inspect = || run(nix2dream().args(["plugins", "inspect", "procfile"]).env("NIX2DREAM_CACHE_DIR", cache.path()));
    let first = inspect();
    assert!(first.ok && first.stdout.contains("loaded:      compiled now"), "{}", first.stdout);
    let second = inspect();
    assert!(second.stdout.contains("loaded:      from the compiled-plugin cache"), "{}", second.stdout);
    let entries: Vec<_> = std::fs::read_dir(cache.path()).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(entries.len(), 1, "one cache entry per plugin and engine: {entries:?}");
    std::fs::write(&entries[0], b"garbage").unwrap();
    let third = inspect();
    assert!(third.ok && third.stdout.contains("compiled now"), "{}{}", third.stdout, third.stderr);
    assert!(inspect().stdout.contains("from the compiled-plugin cache"));
}

#[test]
fn a_tampered_cache_entry_is_recompiled_never_run() {
    let cache = tempfile::tempdir().unwrap();
    let inspect = || run(nix2dream().args(["plugins", "inspect", "procfile"]).env("NIX2DREAM_CACHE_DIR", cache.path()));
    assert!(inspect().ok);
    let entry = std::fs::read_dir(cache.path()).unwrap().flatten().map(|e| e.path()).next().unwrap();
    let good = std::fs::read(&entry).unwrap();
    // Bytes flipped in the code, in the middle and at the end (the tag): a
    // native-code cache would crash or run them; this one recompiles.
    for at in [good.len() / 3, good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        for b in &mut bad[at..(at + 16).min(good.len())] {
            *b ^= 0xff;
        }
        std::fs::write(&entry, &bad).unwrap();
        let r = inspect();
        assert!(r.ok && r.stdout.contains("loaded:      compiled now"), "flipped at {at}: {}{}", r.stdout, r.stderr);
    }
    // Another plugin's valid entry copied over this one is refused as well.
    assert!(run(nix2dream().args(["plugins", "inspect", "systemd"]).env("NIX2DREAM_CACHE_DIR", cache.path())).ok);
    let systemd_entry = std::fs::read_dir(cache.path()).unwrap().flatten().map(|e| e.path()).find(|p| *p != entry).unwrap();
    std::fs::copy(&systemd_entry, &entry).unwrap();
    let r = inspect();
    assert!(r.ok && r.stdout.contains("compiled now") && r.stdout.contains("name:        procfile"), "{}{}", r.stdout, r.stderr);
}

#[test]
fn a_cache_others_can_write_is_not_used_and_cache_clean_empties_it() {
    use std::os::unix::fs::PermissionsExt;
    let cache = tempfile::tempdir().unwrap();
    let inspect = || run(nix2dream().args(["plugins", "inspect", "procfile"]).env("NIX2DREAM_CACHE_DIR", cache.path()));
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let r = inspect();
    assert!(r.ok && r.stderr.contains("not using the compiled-plugin cache") && r.stderr.contains("chmod go-w"), "{}", r.stderr);
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0, "an unsafe cache was written to");
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(inspect().ok && inspect().stdout.contains("from the compiled-plugin cache"));
    let r = run(nix2dream().args(["cache", "clean"]).env("NIX2DREAM_CACHE_DIR", cache.path()));
    assert!(r.ok && r.stdout.contains("removed 1 compiled plugin(s)"), "{}{}", r.stdout, r.stderr);
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
    assert!(inspect().stdout.contains("compiled now"));
}

#[test]
fn a_plugin_built_for_the_older_contract_still_loads_and_renders() {
    let s = setup();
    let input = write_deployment(&s.root, services(), json!({}));
    let inspect = run(nix2dream().args(["plugins", "inspect"]).arg(test_plugin("legacy")));
    assert!(inspect.ok, "{}", inspect.stderr);
    assert!(inspect.stdout.contains("contract:    nix2dream:manager@0.1.0"), "{}", inspect.stdout);
    let r = run(nix2dream().arg("render").arg("--plugin").arg(test_plugin("legacy")).arg(&input).arg("--out").arg(&s.out));
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(s.out.join("services.txt")).unwrap(), "db: sleep 1000\nweb: python3 -m http.server\n");
    assert!(r.stderr.contains("plugin legacy@0.1.0 does not support"), "capability warnings work for old plugins too");
}

/// A 0.2.0 plugin (files, an image request, an info diagnostic) still loads
/// and renders now that the contract is 0.4.0: its results are upgraded.
#[test]
fn a_plugin_built_for_contract_0_2_still_loads_and_renders_images() {
    let s = setup();
    let busybox = busybox_package(&s.root);
    let input = write_deployment(
        &s.root,
        json!({"web": {"process": {"argv": ["httpd", "-f"]}, "package": busybox}}),
        json!({}),
    );
    let inspect = run(nix2dream().args(["plugins", "inspect"]).arg(test_plugin("legacy-v0-2")));
    assert!(inspect.ok, "{}", inspect.stderr);
    assert!(inspect.stdout.contains("contract:    nix2dream:manager@0.2.0"), "{}", inspect.stdout);
    let r = run(nix2dream().arg("render").arg("--plugin").arg(test_plugin("legacy-v0-2")).arg(&input).arg("--out").arg(&s.out));
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("rendered by a 0.2.0 plugin"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(s.out.join("services.txt")).unwrap(), "web: httpd -f\n");
    // The image request was upgraded and assembled: its config says what the plugin asked.
    let list = run(std::process::Command::new("tar").arg("-xOf").arg(s.out.join("images/web.tar")).arg("index.json"));
    assert!(list.ok, "images/web.tar is an OCI archive: {}", list.stderr);
    assert!(list.stdout.contains("web:legacy") || list.stdout.contains("\"legacy\""), "{}", list.stdout);
}

/// A 0.3.0 plugin still loads now that the contract is 0.4.0, and still gets
/// what 0.3.0 added: the programs in the services' packages.
#[test]
fn a_plugin_built_for_contract_0_3_still_gets_the_programs_of_the_packages() {
    let s = setup();
    let busybox = busybox_package(&s.root);
    let input = write_deployment(
        &s.root,
        json!({"web": {"process": {"argv": ["httpd", "-f"]}, "package": busybox}}),
        json!({}),
    );
    let inspect = run(nix2dream().args(["plugins", "inspect"]).arg(test_plugin("legacy-v0-3")));
    assert!(inspect.ok, "{}", inspect.stderr);
    assert!(inspect.stdout.contains("contract:    nix2dream:manager@0.3.0"), "{}", inspect.stdout);
    let r = run(nix2dream().arg("render").arg("--plugin").arg(test_plugin("legacy-v0-3")).arg(&input).arg("--out").arg(&s.out));
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("rendered by a 0.3.0 plugin"), "{}", r.stderr);
    let programs = std::fs::read_to_string(s.out.join("programs.txt")).unwrap();
    assert!(programs.starts_with(&format!("{busybox}: ")), "{programs}");
    assert!(programs.split_whitespace().any(|p| p == "httpd"), "{programs}");
}

/// CI can tell drift from breakage, and what broke: 1 drift, 2 usage,
/// 3 bad input, 4 a plugin, 5 input/output (README "Exit codes").
#[test]
fn exit_codes_say_what_failed() {
    let s = setup();
    let input = write_deployment(&s.root, services(), json!({}));
    let code = |r: Run| r.code;
    assert_eq!(code(render(&input, &s.out, &[])), Some(0));
    assert_eq!(code(render(&input, &s.out, &["--check"])), Some(0));
    std::fs::write(s.out.join("Procfile"), "changed\n").unwrap();
    assert_eq!(code(render(&input, &s.out, &["--check"])), Some(1), "drift");
    assert_eq!(code(run(nix2dream().args(["render", "--no-such-flag"]))), Some(2), "usage");
    let broken = s.root.join("broken.json");
    std::fs::write(&broken, r#"{"schema": "nix2dream/v1", "name": "x", "services": {"a": {"process": {"argv": []}}}}"#).unwrap();
    assert_eq!(code(render(&broken, &s.root.join("o2"), &[])), Some(3), "bad input");
    assert_eq!(code(render(&input, &s.root.join("o3"), &["--strict"])), Some(4), "--strict: the plugin ignores options");
    let hostile = write_deployment(&s.root, services(), json!({"settings": {"hostile": {"behaviour": "panic"}}}));
    let r = run(nix2dream().arg("render").arg("--plugin").arg(test_plugin("hostile")).arg(&hostile).arg("--out").arg(s.root.join("o4")));
    assert_eq!(r.code, Some(4), "a plugin that panics: {}", r.stderr);
    let file = s.root.join("a-file");
    std::fs::write(&file, "").unwrap();
    assert_eq!(code(render(&input, &file, &[])), Some(5), "the output directory is a file");
    let r = render(&input, Path::new("-"), &[]);
    assert_eq!(r.code, Some(3));
    assert!(r.stderr.contains("--out -: nix2dream writes a directory"), "{}", r.stderr);
}

/// The usage paragraph names the real output directory, and only on the
/// first render into it; a closed pipe ends a listing quietly.
#[test]
fn usage_names_the_real_directory_once_and_a_closed_pipe_is_quiet() {
    let s = setup();
    let input = write_deployment(&s.root, services(), json!({}));
    let first = render(&input, &s.out, &[]);
    let shown = format!("cd {} && honcho start", s.out.display());
    assert!(first.stderr.contains(&shown), "{}", first.stderr);
    assert!(!first.stderr.contains("cd OUT"), "{}", first.stderr);
    let again = render(&input, &s.out, &[]);
    assert!(again.ok && !again.stderr.contains("honcho start"), "printed again:\n{}", again.stderr);
    let piped = run(std::process::Command::new("sh")
        .arg("-c")
        // `true` reads nothing and exits at once: the writes that follow meet a closed pipe.
        .arg("\"$0\" plugins inspect procfile | true")
        .arg(dist().join("bin/nix2dream")));
    assert!(piped.ok && !piped.stderr.contains("panicked") && !piped.stderr.contains("Broken pipe"), "{}", piped.stderr);
}

/// A plugin on NIX2DREAM_PLUGIN_PATH named like a bundled one is used, as
/// the search order says, but never silently: `--plugin NAME` warns naming
/// both files, and `plugins list` marks the bundled one shadowed.
#[test]
fn a_plugin_named_like_a_bundled_one_is_never_silent() {
    let s = setup();
    let dir = s.root.join("my-plugins");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(test_plugin("legacy-v0-3"), dir.join("procfile.wasm")).unwrap();
    let input = write_deployment(&s.root, services(), json!({}));
    let r = run(nix2dream().args(["render", "--plugin", "procfile"]).arg(&input).arg("--out").arg(&s.out).env("NIX2DREAM_PLUGIN_PATH", &dir));
    assert!(r.ok, "{}", r.stderr);
    let warning = format!("warning: plugin \"procfile\" is {}", dir.join("procfile.wasm").display());
    assert!(r.stderr.contains(&warning) && r.stderr.contains("shadows") && r.stderr.contains("(bundled)"), "{}", r.stderr);
    assert!(s.out.join("programs.txt").is_file(), "the path's plugin rendered");
    let list = run(nix2dream().args(["plugins", "list"]).env("NIX2DREAM_PLUGIN_PATH", &dir));
    let shadowed = list.stdout.lines().filter(|l| l.starts_with("procfile") && l.contains("(shadowed)")).count();
    assert_eq!(shadowed, 1, "{}", list.stdout);
}

/// `plugins list` and `inspect` take only the flags that act on loading a
/// plugin; the render's output and image limits are refused there.
#[test]
fn plugin_listing_refuses_render_only_limits() {
    for flag in ["--output-limit", "--image-limit"] {
        let r = run(nix2dream().args(["plugins", "inspect", "procfile", flag, "5"]));
        assert_eq!(r.code, Some(2), "{flag}: {}", r.stderr);
    }
    let r = run(nix2dream().args(["plugins", "inspect", "procfile", "--memory-limit", "64", "--no-cache"]));
    assert!(r.ok, "{}", r.stderr);
}

/// A re-render leaves no empty directory behind (here the folders of two
/// plugins no longer rendered), but a directory holding a file of the
/// user's stays, with the file.
#[test]
fn directories_emptied_by_a_re_render_are_removed() {
    let s = setup();
    let input = write_deployment(&s.root, services(), json!({}));
    let legacy = test_plugin("legacy-v0-3");
    let both = run(nix2dream().args(["render", "--plugin", "procfile", "--plugin"]).arg(&legacy).arg(&input).arg("--out").arg(&s.out));
    assert!(both.ok, "{}", both.stderr);
    assert!(s.out.join("procfile/bin").is_dir() && s.out.join("legacy-v0-3/programs.txt").is_file());
    std::fs::write(s.out.join("legacy-v0-3/mine.txt"), "the user's").unwrap();
    let one = render(&input, &s.out, &[]);
    assert!(one.ok, "{}", one.stderr);
    assert!(s.out.join("Procfile").is_file());
    assert!(!s.out.join("procfile").exists(), "the emptied procfile/ folder stayed");
    assert_eq!(std::fs::read_to_string(s.out.join("legacy-v0-3/mine.txt")).unwrap(), "the user's");
    assert!(!s.out.join("legacy-v0-3/programs.txt").exists());
}
