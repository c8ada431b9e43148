//! What the command says, as CI pipelines and people read it: the JSON
//! reports (`--format json`), grouped warnings, `-q`/`-v`, progress only
//! where it belongs, shell completions and the manual pages.

use nix2dream_e2e::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

fn render(input: &Path, out: &Path, extra: &[&str]) -> Run {
    run(nix2dream().args(["render", "--plugin", "procfile"]).arg(input).arg("--out").arg(out).args(extra))
}

fn json_of(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}\nstderr:\n{}", r.stdout, r.stderr))
}

/// `count` services that each set a healthcheck, which procfile ignores.
fn checked_services(count: usize) -> Value {
    let services: serde_json::Map<String, Value> = (0..count)
        .map(|i| (format!("s{i:02}"), json!({"process": {"argv": ["sleep", "100"]}, "healthcheck": {"command": ["true"]}})))
        .collect();
    Value::Object(services)
}

#[test]
fn render_reports_files_diagnostics_drift_and_failures_as_json() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let input = write_deployment(tmp.path(), checked_services(2), json!({}));

    let r = render(&input, &out, &["--format", "json"]);
    let report = json_of(&r);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(report["schema"], "nix2dream/render-report/v1");
    assert_eq!((report["ok"].clone(), report["exitCode"].clone()), (json!(true), json!(0)));
    assert!(report["written"].as_array().unwrap().contains(&json!("Procfile")), "{report:#}");
    assert_eq!(report["plugins"][0]["name"], "procfile");
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 2, "one per service, never grouped: {report:#}");
    assert_eq!(diagnostics[0]["severity"], "warning");
    assert_eq!(diagnostics[0]["plugin"], "procfile@0.1.0");
    assert_eq!(diagnostics[0]["service"], "s00");
    assert_eq!(diagnostics[0]["option"], "healthcheck");
    assert_eq!(diagnostics[0]["unsupported"], true);
    assert!(!r.stderr.contains("warning"), "the warnings are in the JSON, not also on stderr: {}", r.stderr);

    // --check: the drift, field by field, and exit code 1.
    std::fs::write(out.join("Procfile"), "changed\n").unwrap();
    let r = render(&input, &out, &["--check", "--json"]);
    let report = json_of(&r);
    assert_eq!(r.code, Some(1));
    assert_eq!((report["ok"].clone(), report["exitCode"].clone(), report["check"].clone()), (json!(false), json!(1), json!(true)));
    assert_eq!(report["drift"], json!([{"path": "Procfile", "what": "contents differ"}]));

    // A failure: every error listed, the exit code in the document too.
    let strict_out = tmp.path().join("strict");
    let r = render(&input, &strict_out, &["--strict", "--json"]);
    let report = json_of(&r);
    assert_eq!((r.code, report["exitCode"].clone()), (Some(4), json!(4)));
    assert!(report["error"].as_str().unwrap().contains("nothing was written"), "{report:#}");
    let errors: Vec<&Value> = report["diagnostics"].as_array().unwrap().iter().filter(|d| d["severity"] == "error").collect();
    assert_eq!(errors.len(), 2, "{report:#}");
    assert!(!strict_out.exists());

    let broken = tmp.path().join("broken.json");
    std::fs::write(&broken, "{").unwrap();
    let r = render(&broken, &strict_out, &["--json"]);
    assert_eq!((r.code, json_of(&r)["exitCode"].clone(), json_of(&r)["ok"].clone()), (Some(3), json!(3), json!(false)));
}

#[test]
fn plugins_list_and_inspect_print_json() {
    let r = run(nix2dream().args(["plugins", "list", "--format", "json"]));
    let list = json_of(&r);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(list["schema"], "nix2dream/plugin-list/v1");
    let compose = list["plugins"].as_array().unwrap().iter().find(|p| p["name"] == "compose").expect("compose is listed");
    assert_eq!((compose["origin"].clone(), compose["shadowed"].clone(), compose["error"].clone()), (json!("bundled"), json!(false), Value::Null));
    assert!(compose["version"].is_string() && compose["file"].as_str().unwrap().ends_with("compose.wasm"), "{compose:#}");

    let r = run(nix2dream().args(["plugins", "inspect", "compose", "--json"]));
    let details = json_of(&r);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(details["name"], "compose");
    assert_eq!(details["addressing"], "service-name");
    assert!(details["supports"].as_array().unwrap().contains(&json!("ports")), "{details:#}");
    assert_eq!(details["contract"], "0.4.0");

    let r = run(nix2dream().args(["plugins", "inspect", "no-such-plugin", "--json"]));
    let failed = json_of(&r);
    assert_eq!((r.code, failed["ok"].clone(), failed["exitCode"].clone()), (Some(4), json!(false), json!(4)));
    assert!(failed["error"].as_str().unwrap().contains("no-such-plugin"), "{failed:#}");
}

#[test]
fn ignored_options_are_one_line_per_plugin_and_option_unless_verbose() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write_deployment(tmp.path(), checked_services(12), json!({}));
    let r = render(&input, &tmp.path().join("a"), &[]);
    let warnings: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{}", r.stderr);
    assert!(warnings[0].contains("12 services set `healthcheck`, which plugin procfile@0.1.0 does not support"), "{}", warnings[0]);
    assert!(warnings[0].contains(r#"("s00", "s01", "s02" and 9 more; -v lists them all)"#), "{}", warnings[0]);

    let r = render(&input, &tmp.path().join("b"), &["-v"]);
    let warnings = r.stderr.lines().filter(|l| l.starts_with("warning:")).count();
    assert_eq!(warnings, 12, "{}", r.stderr);
    assert!(r.stderr.contains("info: plugin procfile@0.1.0 is "), "-v names the plugin file: {}", r.stderr);

    let r = render(&input, &tmp.path().join("c"), &["--strict"]);
    assert_eq!(r.code, Some(4));
    assert!(r.stderr.contains("12 services set `healthcheck`") && r.stderr.contains("[--strict]"), "{}", r.stderr);
}

#[test]
fn quiet_keeps_warnings_and_drops_the_summary_and_usage() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write_deployment(tmp.path(), checked_services(1), json!({}));
    let r = render(&input, &tmp.path().join("out"), &["-q"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("warning: service \"s00\" sets `healthcheck`"), "{}", r.stderr);
    assert!(!r.stderr.contains("wrote") && !r.stderr.contains("honcho start"), "{}", r.stderr);
    assert_eq!(run(nix2dream().args(["render", "-q", "-v"])).code, Some(2), "-q and -v together are refused");
}

#[test]
fn progress_shows_on_a_terminal_or_when_asked_and_never_in_logs() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write_deployment(tmp.path(), checked_services(1), json!({}));
    // --no-cache: the plugin is compiled, the slow step progress is for.
    let quiet_log = render(&input, &tmp.path().join("a"), &["--no-cache"]);
    assert!(quiet_log.ok && !quiet_log.stderr.contains("compiling"), "a log gets no progress unless asked: {}", quiet_log.stderr);
    let asked = render(&input, &tmp.path().join("b"), &["--no-cache", "--progress", "always"]);
    assert!(asked.stderr.contains("compiling a plugin of") && asked.stderr.contains(": done in "), "{}", asked.stderr);
    assert!(!asked.stderr.contains('\r'), "lines, not a redrawn bar, in a log: {:?}", asked.stderr);

    // On a terminal (script(1) gives one), a spinner redrawn in place.
    let cmd = format!(
        "{} render --plugin procfile --no-cache {} --out {}",
        dist().join("bin/nix2dream").display(),
        input.display(),
        tmp.path().join("c").display()
    );
    let tty = run(Command::new("script").args(["-qec", &cmd, "/dev/null"]).env("NIX2DREAM_CACHE_DIR", tmp.path().join("cache")));
    assert!(tty.ok, "{}{}", tty.stdout, tty.stderr);
    assert!(tty.stdout.contains("compiling a plugin of") && tty.stdout.contains('\r'), "{:?}", tty.stdout);
}

#[test]
fn bash_completes_commands_and_flags_and_zsh_fish_scripts_parse() {
    let tmp = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let r = run(nix2dream().args(["completions", shell]));
        assert!(r.ok && !r.stdout.is_empty(), "{shell}: {}", r.stderr);
        std::fs::write(tmp.path().join(shell), &r.stdout).unwrap();
    }
    // As bash calls it: COMP_WORDS and COMP_CWORD set, then the function
    // with the command, the word under the cursor and the one before it.
    let complete = |words: &[&str]| {
        let array = words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" ");
        let script = format!(
            "source {}; COMP_WORDS=({array}); COMP_CWORD={}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
             _nix2dream nix2dream \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            tmp.path().join("bash").display(),
            words.len() - 1
        );
        let r = run(Command::new("bash").args(["-c", &script]));
        assert!(r.ok, "{}", r.stderr);
        r.stdout
    };
    assert_eq!(complete(&["nix2dream", "ren"]).trim(), "render");
    assert!(complete(&["nix2dream", "render", "--str"]).lines().any(|l| l.trim() == "--strict"));
    let plugins = complete(&["nix2dream", "plugins", ""]);
    assert!(plugins.lines().any(|l| l.trim() == "inspect") && !plugins.contains("render"), "{plugins}");
    for (shell, check) in [("zsh", "-n"), ("fish", "--no-execute")] {
        let r = run(Command::new(shell).arg(check).arg(tmp.path().join(shell)));
        assert!(r.ok, "{shell} does not parse its completion script: {}", r.stderr);
    }
}

#[test]
fn the_manual_pages_are_built_and_read_by_man() {
    let installed = dist().join("share/man/man1");
    for page in ["nix2dream.1", "nix2dream-render.1", "nix2dream-plugins.1"] {
        assert!(installed.join(page).is_file(), "./x build did not install {page} into {}", installed.display());
    }
    let r = run(Command::new("man").args(["-E", "ascii", "-l"]).arg(installed.join("nix2dream-render.1")).env("MANWIDTH", "100").env_remove("MAN_KEEP_FORMATTING"));
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stdout.contains("--allow-unsupported") && r.stdout.contains("--format"), "{}", r.stdout);
    let lint = run(Command::new("groff").args(["-man", "-ww", "-z"]).arg(installed.join("nix2dream.1")));
    assert!(lint.ok && lint.stderr.is_empty(), "groff warns: {}", lint.stderr);
}

/// The usage paragraph's paths work where they are pasted: a relative
/// output directory is shown as `./deploy`, a path to Nix as to a shell.
#[test]
fn usage_paths_are_nix_paths_whether_relative_or_absolute() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write_deployment(tmp.path(), checked_services(1), json!({}));
    let relative = run(nix2dream().current_dir(tmp.path()).args(["render", "--plugin", "nixos"]).arg(&input).args(["--out", "deploy"]));
    assert!(relative.stderr.contains("imports = [ ./deploy/module.nix ];"), "{}", relative.stderr);
    let absolute = tmp.path().join("abs");
    let r = run(nix2dream().args(["render", "--plugin", "nixos"]).arg(&input).arg("--out").arg(&absolute));
    assert!(r.stderr.contains(&format!("imports = [ {}/module.nix ];", absolute.display())), "{}", r.stderr);
}
