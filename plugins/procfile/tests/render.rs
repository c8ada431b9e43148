//! What the render produces and refuses: Procfile lines, settings,
//! diagnostics, determinism, and `info()` matching what the render honours.

mod common;
use common::*;
use nix2dream_plugin_kit::{Diagnostic, Manager, Service};
use nix2dream_procfile::Procfile;

fn procfile_lines(r: &nix2dream_plugin_kit::Rendered) -> Vec<String> {
    text(r, "Procfile").lines().filter(|l| !l.starts_with('#')).map(str::to_owned).collect()
}

fn mentions(errors: &[Diagnostic], service: &str, option: Option<&str>, needle: &str) -> bool {
    errors.iter().any(|d| {
        d.service.as_deref() == Some(service) && d.option_name.as_deref() == option && d.message.contains(needle)
    })
}

#[test]
fn procfile_has_one_line_per_service_sorted_by_name() {
    let r = render_ok(deployment(vec![service("web", &["w"]), service("api_2", &["a"]), service("db-main", &["d"])]));
    assert_eq!(procfile_lines(&r), ["api_2: ./bin/api_2", "db-main: ./bin/db-main", "web: ./bin/web"]);
    let files = files(&r);
    assert_eq!(files.keys().collect::<Vec<_>>(), ["Procfile", "bin/api_2", "bin/db-main", "bin/web"]);
    assert!(!files["Procfile"].1, "the Procfile is not executable");
    assert!(files["bin/web"].1, "launchers are executable");
    assert!(text(&r, "bin/web").starts_with("#!/bin/sh\n"));
    assert!(text(&r, "bin/web").contains("\nset -eu\n"));
}

#[test]
fn same_input_same_bytes_whatever_the_service_order() {
    let make = |order: &[usize]| {
        let all = [
            service("web", &["w", "a b"]).env("X", "1").port("http", 80),
            service("api", &["a"]).description("API"),
            service("db", &["d"]).volume("data", "/var/lib/db"),
        ];
        files(&render_ok(deployment(order.iter().map(|&i| all[i].clone()).collect())))
    };
    let first = make(&[0, 1, 2]);
    assert_eq!(first, make(&[0, 1, 2]));
    assert_eq!(first, make(&[2, 0, 1]));
}

#[test]
fn bin_dir_setting_moves_the_launchers() {
    let mut d = deployment(vec![service("web", &["w"])]);
    d.settings_json = r#"{"binDir": "run/launchers"}"#.into();
    let r = render_ok(d);
    assert_eq!(procfile_lines(&r), ["web: ./run/launchers/web"]);
    assert!(files(&r).contains_key("run/launchers/web"));

    let mut d = deployment(vec![service("web", &["w"])]);
    d.settings_json = r#"{"binDir": "../escape"}"#.into();
    let errors = render_err(d);
    assert!(errors.iter().any(|e| e.message.contains("binDir")), "{errors:#?}");
}

#[test]
fn enable_false_leaves_a_service_out() {
    let r =
        render_ok(deployment(vec![service("web", &["w"]), service("batch", &["b"]).settings(r#"{"enable": false}"#)]));
    assert_eq!(procfile_lines(&r), ["web: ./bin/web"]);
    assert!(!files(&r).contains_key("bin/batch"));
    assert!(r.diagnostics.is_empty());

    let r = render_ok(deployment(vec![service("batch", &["b"]).settings(r#"{"enable": false}"#)]));
    assert!(procfile_lines(&r).is_empty());
    assert_eq!(r.diagnostics.len(), 1, "an empty Procfile is worth a warning");

    let errors = render_err(deployment(vec![service("web", &["w"]).settings(r#"{"enabled": false}"#)]));
    assert!(mentions(&errors, "web", Some("managers"), "enabled"), "{errors:#?}");
}

#[test]
fn bad_service_names_are_errors() {
    for bad in ["web.app", "a b", "a:b", "", "ünï", "a/b"] {
        let errors = render_err(deployment(vec![service(bad, &["x"]), service("ok", &["y"])]));
        assert!(
            errors.iter().any(|d| d.service.as_deref() == Some(bad) && d.message.contains("Procfile")),
            "{errors:#?}"
        );
    }
    let errors = render_err(deployment(vec![service("web", &["x"]), service("web", &["y"])]));
    assert!(errors.iter().any(|d| d.message.contains("twice")), "{errors:#?}");
}

#[test]
fn empty_argv_is_an_error() {
    for argv in [&[][..], &[""][..], &["-dash"][..]] {
        let errors = render_err(deployment(vec![service("web", argv)]));
        assert!(mentions(&errors, "web", Some("process.argv"), "argv"), "{argv:?}: {errors:#?}");
    }
}

#[test]
fn bad_env_names_are_errors() {
    for bad in ["1X", "A-B", "", "A B", "A=B", "é"] {
        let errors = render_err(deployment(vec![service("web", &["x"]).env(bad, "v")]));
        assert!(mentions(&errors, "web", Some("env"), "environment variable name"), "{bad:?}: {errors:#?}");
    }
}

#[test]
fn other_unrepresentable_values_are_errors_not_panics() {
    let cases: Vec<(Service, &str)> = vec![
        (service("web", &["x", "a\0b"]), "process.argv"),
        (service("web", &["x"]).env("A", "\0"), "env"),
        (service("web", &["x"]).path_entry("/a:b"), "path"),
        (service("web", &["x"]).working_directory("relative"), "workingDirectory"),
        (service("web", &["x"]).volume("v", "relative"), "volumes"),
        (service("web", &["x"]).text_file("c", "dir/", "x"), "configData"),
        (service("web", &["x"]).text_file("c", "", "x"), "configData"),
        (service("web", &["x"]).text_file("c", "c", "nul\0"), "configData"),
        (service("web", &["x"]).source_file("c", "c", ""), "configData"),
        (service("web", &["x"]).pre_start("\0"), "preStart"),
        (service("web", &["x"]).port("a-b", 1).port("a_b", 2), "ports"),
    ];
    for (svc, option) in cases {
        let errors = render_err(deployment(vec![svc]));
        assert!(errors.iter().all(|d| d.option_name.as_deref() == Some(option)), "{option}: {errors:#?}");
    }
    // All errors of all services come back together.
    let errors = render_err(deployment(vec![service("a", &[]).env("1", "v"), service("b", &[])]));
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

#[test]
fn info_describes_the_plugin() {
    let info = <Procfile as Manager>::info();
    assert_eq!(info.name, "procfile");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert!(!info.description.is_empty());
    assert!(info.usage.contains("honcho start") && info.usage.contains("PORT_<NAME>"));
    let schema: serde_json::Value = serde_json::from_str(&info.settings_schema).unwrap();
    let props = |place: &str| {
        let at = schema["$defs"][place]["$ref"].as_str().unwrap().trim_start_matches("#/$defs/");
        schema["$defs"][at]["properties"].as_object().unwrap().keys().cloned().collect::<Vec<_>>()
    };
    assert_eq!(props("deployment"), ["binDir"]);
    assert_eq!(props("service"), ["allowHostConfigPaths", "enable"]);
}


#[test]
fn supported_options_are_exactly_those_that_change_the_output() {
    let honoured = honoured_options(|svc| files(&render_ok(deployment(vec![svc, service("db", &["db"])]))));
    let mut declared = <Procfile as Manager>::info().supported_options;
    declared.sort();
    assert_eq!(declared, honoured, "supported-options must list exactly the options the render acts on");
}

/// The launcher deletes and rewrites config files at every start: at an
/// absolute path on the host (e.g. /etc) that would be the user's own file,
/// so it is refused unless the service opts in; inside the working
/// directory or a volume it is the service's own.
#[test]
fn absolute_config_paths_outside_the_services_directories_need_an_opt_in() {
    let abs = service("web", &["x"]).text_file("hosts", "/etc/hosts", "x");
    let errors = render_err(deployment(vec![abs.clone()]));
    assert!(mentions(&errors, "web", Some("configData"), "allowHostConfigPaths"), "{errors:#?}");
    assert!(mentions(&errors, "web", Some("configData"), "/etc/hosts is outside the working directory"), "{errors:#?}");
    // `..` cannot climb out of the working directory either.
    let climbing = service("web", &["x"]).working_directory("/srv/web").text_file("c", "/srv/web/../../etc/x", "x");
    assert!(mentions(&render_err(deployment(vec![climbing])), "web", Some("configData"), "outside"));
    let opted_in = abs.settings(r#"{"allowHostConfigPaths": true}"#);
    assert!(text(&render_ok(deployment(vec![opted_in])), "bin/web").contains("rm -f -- /etc/hosts"));
    let own = service("web", &["x"])
        .working_directory("/srv/web")
        .volume("data", "/var/lib/web")
        .text_file("a", "/srv/web/a.conf", "x")
        .text_file("b", "/var/lib/web/sub/b.conf", "x")
        .text_file("c", "relative.conf", "x");
    render_ok(deployment(vec![own]));
}
