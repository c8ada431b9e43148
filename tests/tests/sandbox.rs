//! Hostile plugins: each one is stopped with an error that names the plugin
//! and what stopped it, and nothing is written into or outside `--out`.

use nix2dream_e2e::*;
use serde_json::json;
use std::path::PathBuf;

struct Case {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    out: PathBuf,
    input: PathBuf,
}

/// A deployment that asks the hostile plugin for `settings`, and an output
/// directory holding a previous, good render plus a file the user wrote.
fn case(settings: serde_json::Value) -> Case {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_owned();
    let out = root.join("out");
    let good = write_deployment(
        &root,
        json!({"web": {"process": {"argv": ["web"]}}}),
        json!({"settings": {"hostile": {"behaviour": "files", "files": {"previous.txt": "good render\n"}}}}),
    );
    let r = run(nix2dream().arg("render").arg("--plugin").arg(test_plugin("hostile")).arg(&good).arg("--out").arg(&out));
    assert!(r.ok, "the good render failed: {}", r.stderr);
    std::fs::write(out.join("mine.txt"), "the user's own file").unwrap();
    let input = write_deployment(
        &root,
        json!({"web": {"process": {"argv": ["web"]}}}),
        json!({"settings": {"hostile": settings}}),
    );
    Case { _tmp: tmp, root, out, input }
}

/// Renders with the hostile plugin and extra flags; asserts it failed, that
/// the output directory is exactly as before, and returns stderr.
fn refused(case: &Case, extra: &[&str]) -> String {
    let before = snapshot(&case.root);
    let r = run(nix2dream()
        .arg("render")
        .arg("--plugin")
        .arg(test_plugin("hostile"))
        .arg(&case.input)
        .arg("--out")
        .arg(&case.out)
        .args(extra));
    assert!(!r.ok, "hostile render succeeded:\n{}", r.stderr);
    // The plugin failed (4), or the output directory refused what it returned (5).
    assert!(matches!(r.code, Some(4 | 5)), "exit code {:?}:\n{}", r.code, r.stderr);
    assert_eq!(snapshot(&case.root), before, "a failed render changed files:\n{}", r.stderr);
    assert_eq!(std::fs::read_to_string(case.out.join("previous.txt")).unwrap(), "good render\n");
    assert!(
        r.stderr.contains("hostile@0.1.0") || r.stderr.contains("nothing was written"),
        "the error names neither the plugin nor the refused write:\n{}",
        r.stderr
    );
    r.stderr
}

#[test]
fn an_endless_loop_exhausts_the_cpu_budget() {
    let c = case(json!({"behaviour": "loop"}));
    let err = refused(&c, &["--fuel", "200000000"]);
    assert!(err.contains("CPU budget exhausted") && err.contains("--fuel"), "{err}");
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let c = case(json!({"behaviour": "memory"}));
    let err = refused(&c, &["--memory-limit", "64"]);
    assert!(err.contains("memory limit of 64 MiB reached"), "{err}");
}

#[test]
fn endless_recursion_is_stopped() {
    let c = case(json!({"behaviour": "stack"}));
    let err = refused(&c, &[]);
    assert!(err.contains("render() failed: stack overflow"), "the limit hit is not named: {err}");
}

#[test]
fn a_huge_output_hits_the_output_limit() {
    let c = case(json!({"behaviour": "huge-output", "mib": 8}));
    let err = refused(&c, &["--output-limit", "4"]);
    assert!(err.contains("output limit exceeded"), "{err}");
    // The same output is accepted when the user raises the limit.
    let r = run(nix2dream().arg("render").arg("--plugin").arg(test_plugin("hostile")).arg(&c.input).arg("--out").arg(&c.out).args(["--output-limit", "16"]));
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(std::fs::metadata(c.out.join("huge")).unwrap().len(), 8 << 20);
}

#[test]
fn an_output_limit_above_wasmtimes_default_copy_bound_holds() {
    // wasmtime copies at most 128 MiB out of a plugin by default; the host
    // raises that bound to the output limit, so 150 MiB pass under 200.
    let c = case(json!({"behaviour": "huge-output", "mib": 150}));
    let e = refused(&c, &["--output-limit", "100", "--memory-limit", "1024"]);
    assert!(e.contains("output limit exceeded") && e.contains("--output-limit"), "{e}");
    let r = run(nix2dream().arg("render").arg("--plugin").arg(test_plugin("hostile")).arg(&c.input).arg("--out").arg(&c.out)
        .args(["--output-limit", "200", "--memory-limit", "1024"]));
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(std::fs::metadata(c.out.join("huge")).unwrap().len(), 150 << 20);
}

#[test]
fn millions_of_empty_files_hit_the_output_limit() {
    let c = case(json!({"behaviour": "many-files", "count": 200_000}));
    let e = refused(&c, &[]);
    assert!(e.contains("output limit exceeded: the render returned 200000 artifacts and 0 diagnostics"), "{e}");
}

#[test]
fn a_panic_is_reported_as_a_plugin_failure_with_its_message() {
    let c = case(json!({"behaviour": "panic"}));
    let err = refused(&c, &[]);
    assert!(err.contains("panicked"), "{err}");
    // The kit's panic hook reports the message through host.report (0.4.0).
    assert!(err.contains("the plugin reported: panicked at") && err.contains("hostile plugin panics on purpose"), "{err}");
}

#[test]
fn an_error_diagnostic_names_service_and_option() {
    let c = case(json!({"behaviour": "refuse"}));
    let err = refused(&c, &[]);
    assert!(err.contains(r#"service "web": `process.argv`: refused on purpose"#), "{err}");
}

fn files_case(files: serde_json::Value) -> (Case, String) {
    let c = case(json!({"behaviour": "files", "files": files}));
    let err = refused(&c, &[]);
    (c, err)
}

#[test]
fn parent_traversal_is_refused() {
    let (c, err) = files_case(json!({"ok.txt": "fine", "../escape.txt": "out"}));
    assert!(err.contains("climbs out of the output directory"), "{err}");
    assert!(!c.root.join("escape.txt").exists());
    assert!(!c.out.join("ok.txt").exists(), "the good file of a refused render was written");
}

#[test]
fn absolute_paths_are_refused() {
    let target = tempfile::tempdir().unwrap();
    let abs = target.path().join("x");
    let (_c, err) = files_case(json!({ abs.to_str().unwrap(): "owned" }));
    assert!(err.contains("is absolute"), "{err}");
    assert!(!abs.exists());
}

#[test]
fn symlinks_cannot_lead_outside_the_output_directory() {
    let outside = tempfile::tempdir().unwrap();
    let c = case(json!({"behaviour": "files", "files": {"ok.txt": "fine", "link/evil.txt": "owned"}}));
    std::os::unix::fs::symlink(outside.path(), c.out.join("link")).unwrap();
    let err = refused(&c, &[]);
    assert!(err.contains("link/evil.txt: link is a symbolic link"), "{err}");
    assert!(!outside.path().join("evil.txt").exists(), "a file was written through the symlink");
    assert!(!c.out.join("ok.txt").exists());
}

fn refused_file(bytes: &[u8], name: &str) -> String {
    let c = case(json!({}));
    let plugin = c.root.join(name);
    std::fs::write(&plugin, bytes).unwrap();
    let before = snapshot(&c.out);
    let r = run(nix2dream().arg("render").arg("--plugin").arg(&plugin).arg(&c.input).arg("--out").arg(&c.out));
    assert!(!r.ok);
    assert_eq!(snapshot(&c.out), before);
    assert!(r.stderr.contains(name), "the error does not name the plugin file:\n{}", r.stderr);
    r.stderr
}

#[test]
fn a_component_importing_wasi_is_refused_by_name() {
    let wasm = wat::parse_str(r#"(component (import "wasi:cli/environment@0.2.0" (instance)))"#).unwrap();
    let err = refused_file(&wasm, "wasi.wasm");
    assert!(err.contains("`wasi:cli/environment@0.2.0`") && err.contains("no imports"), "{err}");
}

#[test]
fn a_refused_plugin_is_refused_before_compiling_and_never_cached() {
    let cache = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // A WASI-importing component with a large body: refused by its imports
    // without being compiled, so refused at once and not cached.
    let mut funcs = String::new();
    for i in 0..2000 {
        funcs.push_str(&format!("(func $f{i} (result i32) (i32.add (i32.const {i}) (i32.const 1)))\n"));
    }
    let wat = format!(r#"(component (import "wasi:cli/environment@0.2.0" (instance)) (core module {funcs}))"#);
    let plugin = tmp.path().join("wasi-big.wasm");
    std::fs::write(&plugin, wat::parse_str(wat).unwrap()).unwrap();
    let r = run(nix2dream().args(["plugins", "inspect"]).arg(&plugin).env("NIX2DREAM_CACHE_DIR", cache.path()));
    assert!(!r.ok && r.stderr.contains("`wasi:cli/environment@0.2.0`"), "{}", r.stderr);
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0, "a refused plugin was cached");
    // A plugin file over the size limit is not even read to the end.
    let r = run(nix2dream().args(["plugins", "inspect"]).arg(test_plugin("hostile")).args(["--plugin-size-limit", "0"]));
    assert!(!r.ok && r.stderr.contains("bigger than the plugin size limit of 0 MiB") && r.stderr.contains("--plugin-size-limit"), "{}", r.stderr);
}

#[test]
fn a_core_module_is_not_a_component() {
    let err = refused_file(&wat::parse_str("(module)").unwrap(), "core.wasm");
    assert!(err.contains("core WebAssembly module, not a component"), "{err}");
}

#[test]
fn random_bytes_are_not_a_plugin() {
    let err = refused_file(b"#!/bin/sh\necho I am not wasm\n", "script.wasm");
    assert!(err.contains("not a WebAssembly component"), "{err}");
}

#[test]
fn a_truncated_component_is_refused() {
    let bytes = std::fs::read(test_plugin("hostile")).unwrap();
    let err = refused_file(&bytes[..bytes.len() / 2], "truncated.wasm");
    assert!(err.contains("not a valid component"), "{err}");
}

#[test]
fn an_unknown_contract_version_lists_the_known_ones() {
    let wasm = wat::parse_str(r#"(component (instance $i) (export "nix2dream:manager/plugin@0.9.0" (instance $i)))"#).unwrap();
    let err = refused_file(&wasm, "future.wasm");
    assert!(err.contains("nix2dream:manager@0.9.0") && err.contains("it knows: 0.1.0, 0.2.0, 0.3.0, 0.4.0"), "{err}");
}

#[test]
fn a_component_that_is_no_manager_is_refused() {
    let err = refused_file(&wat::parse_str("(component)").unwrap(), "empty.wasm");
    assert!(err.contains("does not export `nix2dream:manager/plugin@<version>`"), "{err}");
}

#[test]
fn a_plugin_whose_info_would_spoof_or_escape_is_refused() {
    // The hostile plugin with its name (kept in a marked slot of its data)
    // changed to what no output folder, settings key or terminal line may carry.
    let wasm = std::fs::read(test_plugin("hostile")).unwrap();
    let marker = b"N2D-NAME-SLOT:hostile\0";
    let at = wasm.windows(marker.len()).position(|w| w == marker).expect("the name slot of the hostile plugin") + 14;
    for (name, expected) in [
        ("../../x", "its name \"../../x\" is not a plugin name"),
        ("ok\x1b[2K", "is not a plugin name"),
    ] {
        let mut patched = wasm.clone();
        patched[at..at + name.len()].copy_from_slice(name.as_bytes());
        patched[at + name.len()] = 0;
        let err = refused_file(&patched, "renamed.wasm");
        assert!(err.contains("renamed.wasm is refused: ") && err.contains(expected), "{err}");
    }
}

#[test]
fn two_plugins_of_one_name_are_refused_before_rendering() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write_deployment(tmp.path(), json!({"web": {"process": {"argv": ["web"]}}}), json!({}));
    let copy = tmp.path().join("procfile-copy.wasm");
    std::fs::copy(bundled_plugin("procfile"), &copy).unwrap();
    let out = tmp.path().join("out");
    let r = run(nix2dream().args(["render", "--plugin", "procfile", "--plugin"]).arg(&copy).arg(&input).arg("--out").arg(&out));
    assert!(!r.ok && r.stderr.contains("have the same name") && r.stderr.contains("procfile-copy.wasm"), "{}", r.stderr);
    assert!(!out.exists());
}


#[test]
fn an_image_request_cannot_read_host_files_the_deployment_does_not_name() {
    // A plugin cannot read files itself; it must not get the host to read
    // them into an image either.
    let c = case(json!({"behaviour": "image", "source": "/etc/passwd"}));
    let e = refused(&c, &[]);
    assert!(e.contains("hostile@0.1.0") && e.contains("/etc/passwd is not part of the deployment"), "{e}");
    let secret = c.root.join("secret.txt");
    std::fs::write(&secret, "private").unwrap();
    let c2 = case(json!({"behaviour": "image", "source": secret}));
    let e = refused(&c2, &[]);
    assert!(e.contains("is not part of the deployment"), "{e}");
    let c3 = case(json!({"behaviour": "image", "storePaths": ["/etc"]}));
    let e = refused(&c3, &[]);
    assert!(e.contains("store path /etc is not part of the deployment"), "{e}");
    // A symlink inside a named path that leads outside it is refused too.
    let named = c.root.join("named");
    std::fs::create_dir(&named).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", named.join("link")).unwrap();
    let via_link = write_deployment(
        &c.root,
        json!({"web": {"process": {"argv": ["web"]}, "closureRoots": [named]}}),
        json!({"settings": {"hostile": {"behaviour": "image", "source": named.join("link")}}}),
    );
    let r = run(nix2dream().arg("render").arg("--plugin").arg(test_plugin("hostile")).arg(&via_link).arg("--out").arg(&c.out));
    assert!(!r.ok && r.stderr.contains("is not part of the deployment"), "{}", r.stderr);
}

#[test]
fn an_image_request_may_read_what_the_deployment_names() {
    // The control for the test above: a config file source of the deployment is readable.
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("app.conf");
    std::fs::write(&source, "named by the deployment\n").unwrap();
    let input = write_deployment(
        tmp.path(),
        json!({"web": {"process": {"argv": ["web"]}, "configData": {"app.conf": {"source": source}}}}),
        json!({"settings": {"hostile": {"behaviour": "image", "source": source}}}),
    );
    let out = tmp.path().join("out");
    let r = run(nix2dream().arg("render").arg("--plugin").arg(test_plugin("hostile")).arg(&input).arg("--out").arg(&out));
    assert!(r.ok, "{}", r.stderr);
    let archive = std::fs::read(out.join("images/stolen.tar")).unwrap();
    let needle = b"named by the deployment\n";
    assert!(archive.windows(needle.len()).any(|w| w == needle), "the named source is not in the image");
}

#[test]
fn image_archives_are_bounded_by_the_image_limit() {
    // Three images of a 1.5 MiB file the deployment names: 4.5 MiB in all.
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("blob");
    std::fs::write(&source, vec![7u8; 3 << 19]).unwrap();
    let input = write_deployment(
        tmp.path(),
        json!({"web": {"process": {"argv": ["web"]}, "configData": {"blob": {"source": source}}}}),
        json!({"settings": {"hostile": {"behaviour": "image", "source": source, "count": 3}}}),
    );
    let out = tmp.path().join("out");
    let render = |limit: &str| {
        run(nix2dream().arg("render").arg("--plugin").arg(test_plugin("hostile")).arg(&input).arg("--out").arg(&out).args(["--image-limit", limit]))
    };
    let r = render("2");
    assert!(!r.ok, "4.5 MiB of images passed a 2 MiB limit");
    assert!(r.stderr.contains("hostile@0.1.0") && r.stderr.contains("image limit of 2 MiB") && r.stderr.contains("--image-limit"), "{}", r.stderr);
    assert!(!out.exists(), "a render over the image limit wrote something");
    let r = render("5");
    assert!(r.ok, "{}", r.stderr);
    assert!(out.join("images/stolen.tar").is_file() && out.join("images/stolen-2.tar").is_file());
}
