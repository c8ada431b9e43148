//! Runs the generated launchers for real with `sh` and checks what the
//! process sees: argv, environment, working directory, volumes, config
//! files, preStart.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn argv_reaches_the_process_unchanged() {
    let tmp = TempDir::new("argv");
    let out = tmp.join("out");
    let r = render_ok(deployment(vec![service("web", &dump_argv(HOSTILE))]));
    write_out(&r, &out);
    let run = run_launcher(&out, "web", &[("DUMP_DIR", tmp.str())]);
    assert_success(&run);
    assert_eq!(read_nul_list(&tmp.join("argv")), HOSTILE);
}

#[test]
fn env_values_reach_the_process_unchanged() {
    let tmp = TempDir::new("env");
    let out = tmp.join("out");
    let mut svc = service("web", &dump_argv(&[]));
    for (i, value) in HOSTILE.iter().enumerate() {
        svc = svc.env(&format!("V_{i}"), value);
    }
    write_out(&render_ok(deployment(vec![svc])), &out);
    let run = run_launcher(&out, "web", &[("DUMP_DIR", tmp.str()), ("V_0", "overridden by the service")]);
    assert_success(&run);
    let env = read_env(&tmp.join("env"));
    for (i, value) in HOSTILE.iter().enumerate() {
        assert_eq!(env.get(&format!("V_{i}")).map(String::as_str), Some(*value), "V_{i}");
    }
    // The caller's environment is inherited (DUMP_DIR got through).
    assert_eq!(env["DUMP_DIR"], tmp.str());
}

#[test]
fn working_directory_is_created_and_entered_and_volumes_exist() {
    let tmp = TempDir::new("wd");
    let out = tmp.join("out");
    let wd = tmp.join("state dir/it's here");
    let vol_a = tmp.join("vol a/data");
    let vol_b = tmp.join("$vol`b`");
    let svc = service("web", &dump_argv(&[]))
        .working_directory(wd.to_str().unwrap())
        .volume("a", vol_a.to_str().unwrap())
        .volume("b", vol_b.to_str().unwrap());
    write_out(&render_ok(deployment(vec![svc])), &out);
    for _ in 0..2 {
        // Twice: a second start finds everything in place and still works.
        assert_success(&run_launcher(&out, "web", &[("DUMP_DIR", tmp.str())]));
        let pwd = std::fs::read_to_string(tmp.join("pwd")).unwrap();
        assert_eq!(pwd.trim_end_matches('\n'), std::fs::canonicalize(&wd).unwrap().to_str().unwrap());
        assert!(vol_a.is_dir() && vol_b.is_dir());
    }
}

#[test]
fn without_working_directory_the_process_runs_in_the_output_directory() {
    let tmp = TempDir::new("nowd");
    let out = tmp.join("out");
    let svc = service("web", &dump_argv(&[])).text_file("rel", "conf/rel.conf", "x");
    write_out(&render_ok(deployment(vec![svc])), &out);
    assert_success(&run_launcher(&out, "web", &[("DUMP_DIR", tmp.str())]));
    let pwd = std::fs::read_to_string(tmp.join("pwd")).unwrap();
    assert_eq!(pwd.trim_end(), std::fs::canonicalize(&out).unwrap().to_str().unwrap());
    assert_eq!(std::fs::read(out.join("conf/rel.conf")).unwrap(), b"x");
}

#[test]
fn config_files_have_exactly_the_given_bytes() {
    let tmp = TempDir::new("config");
    let out = tmp.join("out");
    let wd = tmp.join("work");
    let text = "a = '$HOME' \"`id`\" $(id) \\ \\\\n\nEOF\n'\nno trailing newline \\";
    let text_nl = "ends with newlines\n\n";
    // A source file like a Nix store path: binary bytes, read-only.
    let source = tmp.join("store-file");
    let binary: Vec<u8> = (0u8..=255).chain(*b"\r\n$x'\"").collect();
    std::fs::write(&source, &binary).unwrap();
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o444)).unwrap();
    let abs = tmp.join("etc dir/abs 'q'.conf");

    let svc = service("web", &["/bin/true"])
        .working_directory(wd.to_str().unwrap())
        .text_file("rel", "sub dir/app.conf", text)
        .text_file("nl", "plain.conf", text_nl)
        .text_file("empty", "-dash.conf", "")
        .source_file("bin", "copied/blob", source.to_str().unwrap())
        .text_file("abs", abs.to_str().unwrap(), "absolute")
        .settings(r#"{"allowHostConfigPaths": true}"#);
    write_out(&render_ok(deployment(vec![svc])), &out);
    for _ in 0..2 {
        // The second start replaces the read-only copy from the first.
        assert_success(&run_launcher(&out, "web", &[]));
        assert_eq!(std::fs::read_to_string(wd.join("sub dir/app.conf")).unwrap(), text);
        assert_eq!(std::fs::read_to_string(wd.join("plain.conf")).unwrap(), text_nl);
        assert_eq!(std::fs::read(wd.join("-dash.conf")).unwrap(), b"");
        assert_eq!(std::fs::read(wd.join("copied/blob")).unwrap(), binary);
        assert_eq!(std::fs::read_to_string(&abs).unwrap(), "absolute");
    }
}

#[test]
fn a_missing_source_stops_the_launcher() {
    let tmp = TempDir::new("nosource");
    let out = tmp.join("out");
    let marker = tmp.join("ran");
    let svc = service("web", &["/bin/sh", "-c", "touch \"$1\"", "sh", marker.to_str().unwrap()]).source_file(
        "x",
        "x.conf",
        tmp.join("does-not-exist").to_str().unwrap(),
    );
    write_out(&render_ok(deployment(vec![svc])), &out);
    assert!(!run_launcher(&out, "web", &[]).status.success());
    assert!(!marker.exists());
}

#[test]
fn pre_start_runs_first_in_the_service_environment_and_directory() {
    let tmp = TempDir::new("prestart");
    let out = tmp.join("out");
    let wd = tmp.join("work");
    // preStart writes a marker (using the service env); the process requires it.
    let svc = service("web", &["/bin/sh", "-c", "cat marker > seen"])
        .working_directory(wd.to_str().unwrap())
        .env("GREETING", "hello 'world' $x")
        .pre_start("set -u\nprintf '%s' \"$GREETING\" > marker\n");
    write_out(&render_ok(deployment(vec![svc])), &out);
    assert_success(&run_launcher(&out, "web", &[]));
    assert_eq!(
        std::fs::read_to_string(wd.join("seen")).unwrap(),
        "hello 'world' $x",
        "the process did not see preStart's marker"
    );
}

#[test]
fn a_failing_pre_start_stops_the_launcher() {
    for script in ["exit 3", "false\ntouch after", "false; touch after"] {
        let tmp = TempDir::new("prestart-fail");
        let out = tmp.join("out");
        let wd = tmp.join("work");
        let svc =
            service("web", &["/bin/sh", "-c", "touch ran"]).working_directory(wd.to_str().unwrap()).pre_start(script);
        write_out(&render_ok(deployment(vec![svc])), &out);
        let run = run_launcher(&out, "web", &[]);
        assert!(!run.status.success(), "{script:?}: launcher succeeded");
        assert!(!wd.join("ran").exists(), "{script:?}: the process ran after a failed preStart");
        assert!(!wd.join("after").exists(), "{script:?}: preStart went on after a failing command");
    }
}

#[test]
fn path_entries_come_first_on_path_in_order() {
    let tmp = TempDir::new("path");
    let out = tmp.join("out");
    for (pkg, says) in [("pkg one", "one"), ("pkg two", "two")] {
        let bin = tmp.join(pkg).join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for prog in ["which-pkg", &format!("only-{says}")] {
            let p = bin.join(prog);
            std::fs::write(&p, format!("#!/bin/sh\necho {says}\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    let one = tmp.join("pkg one");
    let two = tmp.join("pkg two");
    for (argv0, expect) in [("which-pkg", "one"), ("only-two", "two")] {
        let svc = service("web", &[argv0]).path_entry(one.to_str().unwrap()).path_entry(two.to_str().unwrap());
        write_out(&render_ok(deployment(vec![svc])), &out);
        let run = run_launcher(&out, "web", &[]);
        assert_success(&run);
        assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), expect);
    }
    // The caller's PATH is kept after the entries.
    let svc = service("web", &["sh", "-c", r#"printf '%s' "$PATH""#]).path_entry(one.to_str().unwrap());
    write_out(&render_ok(deployment(vec![svc])), &out);
    let run = run_launcher(&out, "web", &[("PATH", "/usr/bin:/bin")]);
    assert_success(&run);
    assert_eq!(String::from_utf8_lossy(&run.stdout), format!("{}/bin:/usr/bin:/bin", one.display()));
}

#[test]
fn a_service_path_env_does_not_break_the_setup() {
    let tmp = TempDir::new("envpath");
    let out = tmp.join("out");
    let wd = tmp.join("work");
    let src = tmp.join("src");
    std::fs::write(&src, "copied").unwrap();
    let svc = service("web", &["/bin/sh", "-c", r#"printf '%s' "$PATH" > seen"#])
        .working_directory(wd.to_str().unwrap())
        .volume("v", tmp.join("vol").to_str().unwrap())
        .source_file("c", "c.conf", src.to_str().unwrap())
        .env("PATH", "/nonexistent");
    write_out(&render_ok(deployment(vec![svc])), &out);
    assert_success(&run_launcher(&out, "web", &[]));
    assert_eq!(std::fs::read_to_string(wd.join("seen")).unwrap(), "/nonexistent");
    assert_eq!(std::fs::read_to_string(wd.join("c.conf")).unwrap(), "copied");
    assert!(tmp.join("vol").is_dir());
}

#[test]
fn ports_are_exported_and_env_can_override_them() {
    let tmp = TempDir::new("ports");
    let out = tmp.join("out");
    let one = service("one", &dump_argv(&[])).port("http", 8080);
    write_out(&render_ok(deployment(vec![one])), &out);
    assert_success(&run_launcher(&out, "one", &[("DUMP_DIR", tmp.str()), ("PORT", "5000")]));
    let env = read_env(&tmp.join("env"));
    assert_eq!(env["PORT_HTTP"], "8080");
    assert_eq!(env["PORT"], "8080", "PORT from honcho/foreman must be replaced by the declared port");

    let two = service("two", &dump_argv(&[])).port("http", 80).port("admin-ui", 9000).env("PORT_HTTP", "81");
    write_out(&render_ok(deployment(vec![two])), &out);
    assert_success(&run_launcher(&out, "two", &[("DUMP_DIR", tmp.str()), ("PORT", "5000")]));
    let env = read_env(&tmp.join("env"));
    assert_eq!(env["PORT_HTTP"], "81", "an explicit env value wins");
    assert_eq!(env["PORT_ADMIN_UI"], "9000");
    assert_eq!(env["PORT"], "5000", "with several ports PORT is left alone");
}

#[test]
fn the_process_replaces_the_launcher() {
    // exec: the service has the launcher's pid, so honcho's signals reach it.
    let tmp = TempDir::new("exec");
    let out = tmp.join("out");
    let svc = service("web", &["/bin/sh", "-c", "echo $$"]);
    write_out(&render_ok(deployment(vec![svc])), &out);
    let child = retry_busy(|| {
        std::process::Command::new("./bin/web").current_dir(&out).stdout(std::process::Stdio::piped()).spawn()
    })
    .unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    assert_success(&output);
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), pid.to_string());
}

#[test]
fn honcho_runs_the_procfile() {
    // End to end with the real honcho (scripts/install-deps.sh installs it).
    let version = std::process::Command::new("honcho")
        .arg("version")
        .output()
        .expect("honcho is not installed: run scripts/install-deps.sh (pip install honcho)");
    assert!(version.status.success(), "honcho is not usable: {version:?}");
    let tmp = TempDir::new("honcho");
    let out = tmp.join("out");
    let wd = tmp.join("work");
    let svc = service("web", &["/bin/sh", "-c", "cat greeting.txt; printf '%s' \"$WHO\" > who", "web"])
        .working_directory(wd.to_str().unwrap())
        .text_file("greeting", "greeting.txt", "hello from honcho\n")
        .env("WHO", "it's $me")
        .port("http", 8080);
    write_out(&render_ok(deployment(vec![svc])), &out);
    let run = std::process::Command::new("honcho").arg("start").current_dir(&out).output().unwrap();
    assert_success(&run);
    assert!(String::from_utf8_lossy(&run.stdout).contains("hello from honcho"), "{run:?}");
    assert_eq!(std::fs::read_to_string(wd.join("who")).unwrap(), "it's $me");
}

#[test]
fn the_package_bin_comes_first_on_path_then_path_entries() {
    let dir = TempDir::new("package-path");
    let (pkg, tools) = (dir.join("pkg"), dir.join("tools"));
    for (d, says) in [(&pkg, "from-package"), (&tools, "from-tools")] {
        std::fs::create_dir_all(d.join("bin")).unwrap();
        let exe = d.join("bin/which-one");
        std::fs::write(&exe, format!("#!/bin/sh\necho {says}\n")).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let svc = service("app", &["which-one"])
        .with(|s| s.package = Some(pkg.to_str().unwrap().into()))
        .path_entry(tools.to_str().unwrap());
    let out = dir.join("out");
    write_out(&render_ok(deployment(vec![svc])), &out);
    let run = run_launcher(&out, "app", &[]);
    assert_success(&run);
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "from-package");
}
