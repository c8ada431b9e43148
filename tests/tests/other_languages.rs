//! Plugins in other languages than Rust, built as docs/writing-a-plugin.md
//! says from examples/python-plugin and examples/c-plugin against the
//! current contract (wit/v0.4.0), then rendered with. Skipped, loudly, only
//! where the toolchain is absent (scripts/install-deps.sh installs it).

use nix2dream_e2e::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

fn contract_wit() -> PathBuf {
    repo_root().join("wit/v0.4.0")
}

/// Two services; the plugins write a Procfile of them.
fn deployment(dir: &Path) -> PathBuf {
    write_deployment(
        dir,
        json!({
            "web": {"process": {"argv": ["httpd", "-h", "/srv/my site"]}, "env": {"GREETING": "it's $HOME"}},
            "db": {"process": {"argv": ["sleep", "1000"]}},
        }),
        json!({}),
    )
}

fn works(cmd: &mut Command) -> bool {
    cmd.output().is_ok_and(|o| o.status.success())
}

#[test]
fn a_python_plugin_built_with_componentize_py_renders() {
    const TEST: &str = "other_languages::a_python_plugin_built_with_componentize_py_renders";
    if !works(Command::new("componentize-py").arg("--version")) {
        record_skip(TEST, "componentize-py not found (pip install componentize-py; scripts/install-deps.sh does)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let component = tmp.path().join("py-procfile.wasm");
    // In examples/python-plugin, as the docs say.
    let r = run(Command::new("componentize-py")
        .current_dir(repo_root().join("examples/python-plugin"))
        .arg("-d")
        .arg(contract_wit())
        .args(["-w", "manager", "componentize", "app", "--stub-wasi", "-o"])
        .arg(&component));
    assert!(r.ok, "componentize-py failed:\n{}{}", r.stdout, r.stderr);

    // Without a bigger size limit, the 18 MB component is refused before compiling.
    let input = deployment(tmp.path());
    let r = run(nix2dream().args(["plugins", "inspect"]).arg(&component));
    assert!(!r.ok && r.stderr.contains("--plugin-size-limit"), "{}", r.stderr);
    // One render (the first load compiles CPython: about half a minute).
    let out = tmp.path().join("out");
    let r = run(nix2dream().args(["render", "--plugin-size-limit", "32", "--plugin"]).arg(&component).arg(&input).arg("--out").arg(&out));
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(out.join("Procfile")).unwrap(),
        "db: sleep 1000\nweb: env GREETING='it'\"'\"'s $HOME' httpd -h '/srv/my site'\n"
    );
    // A refusal is a diagnostic naming the service and option (the second
    // load comes from the compiled-plugin cache).
    assert_refused(&component, tmp.path(), &["--plugin-size-limit", "32"]);
}

/// A value with a newline cannot go on a Procfile line: both example
/// plugins refuse it with a diagnostic.
fn assert_refused(component: &Path, dir: &Path, extra: &[&str]) {
    let bad = write_deployment(dir, json!({"bad": {"process": {"argv": ["echo", "two\nlines"]}}}), json!({}));
    let r = run(nix2dream().arg("render").args(extra).arg("--plugin").arg(component).arg(&bad).arg("--out").arg(dir.join("refused")));
    assert_eq!(r.code, Some(4), "{}", r.stderr);
    assert!(r.stderr.contains("cannot hold a newline") && r.stderr.contains("bad") && r.stderr.contains("process.argv"), "{}", r.stderr);
}

/// clang with a wasm32 target, wasi-libc and compiler-rt's wasm32
/// builtins: `clang-N` of the newest LLVM that has them, else `clang`.
fn wasm_clang() -> Option<String> {
    if !Path::new("/usr/lib/wasm32-wasi/libc.a").is_file() {
        return None;
    }
    let mut versions: Vec<u32> = std::fs::read_dir("/usr/lib")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("llvm-")?.parse().ok())
        .collect();
    versions.sort();
    let candidates = versions.iter().rev().map(|v| format!("clang-{v}")).chain(["clang".to_owned()]);
    let probe = std::env::temp_dir().join(format!("nix2dream-clang-probe-{}.c", std::process::id()));
    std::fs::write(&probe, "int f(int x) { return x + 1; }\n").ok()?;
    let found = candidates.into_iter().find(|clang| {
        works(Command::new(clang)
            .args(["--target=wasm32-wasi", "-mexec-model=reactor", "-Wl,--no-entry", "-o", "/dev/null"])
            .arg(&probe))
    });
    let _ = std::fs::remove_file(&probe);
    found
}

#[test]
fn a_c_plugin_built_with_wit_bindgen_and_clang_renders() {
    const TEST: &str = "other_languages::a_c_plugin_built_with_wit_bindgen_and_clang_renders";
    if !works(Command::new("wit-bindgen").arg("--version")) {
        record_skip(TEST, "wit-bindgen not found (cargo install wit-bindgen-cli; scripts/install-deps.sh does)");
        return;
    }
    let Some(clang) = wasm_clang() else {
        record_skip(TEST, "no clang that links wasm32-wasi (apt-get install clang libclang-rt-dev-wasm32 wasi-libc; scripts/install-deps.sh does)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let example = repo_root().join("examples/c-plugin");
    let gen = tmp.path().join("gen");
    // 1. the bindings of the contract
    let r = run(Command::new("wit-bindgen").arg("c").arg(contract_wit()).arg("--out-dir").arg(&gen));
    assert!(r.ok, "{}{}", r.stdout, r.stderr);
    // 2. a core module: a reactor (no main), no entry point
    let compile = |module: &Path, defines: &[&str]| {
        run(Command::new(&clang)
            .args(["--target=wasm32-wasi", "-mexec-model=reactor", "-Wl,--no-entry", "-O2", "-Wno-deprecated"])
            .args(defines)
            .arg("-I")
            .arg(&gen)
            .arg("-o")
            .arg(module)
            .arg(example.join("plugin.c"))
            .arg(gen.join("manager.c"))
            .arg(gen.join("manager_component_type.o")))
    };
    let module = tmp.path().join("c-procfile.core.wasm");
    let r = compile(&module, &[]);
    assert!(r.ok, "{clang} failed:\n{}{}", r.stdout, r.stderr);
    // 3. the component, checked by nix2dream
    let component = tmp.path().join("c-procfile.wasm");
    let r = run(nix2dream().args(["plugins", "componentize"]).arg(&module).arg(&component));
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("c-procfile 0.1.0, contract nix2dream:manager@0.4.0"), "{}", r.stderr);
    assert!(std::fs::metadata(&component).unwrap().len() < 1 << 20, "a C plugin is small");

    let input = deployment(tmp.path());
    let out = tmp.path().join("out");
    let r = run(nix2dream().args(["render", "--plugin"]).arg(&component).arg(&input).arg("--out").arg(&out));
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(out.join("Procfile")).unwrap(),
        "db: 'sleep' '1000'\nweb: env GREETING='it'\\''s $HOME' 'httpd' '-h' '/srv/my site'\n"
    );
    assert_refused(&component, tmp.path(), &[]);

    // One fprintf brings WASI in: refused, saying how to build without it.
    let debug = tmp.path().join("debug.core.wasm");
    let r = compile(&debug, &["-DPROCFILE_DEBUG"]);
    assert!(r.ok, "{clang} failed:\n{}{}", r.stdout, r.stderr);
    let r = run(nix2dream().args(["plugins", "componentize"]).arg(&debug).arg(tmp.path().join("debug.wasm")));
    assert!(!r.ok && r.stderr.contains("wasi_snapshot_preview1.fd_write"), "{}", r.stderr);
    assert!(r.stderr.contains("C: clang --target=wasm32-wasi -mexec-model=reactor"), "{}", r.stderr);
    assert!(!tmp.path().join("debug.wasm").exists());
}
