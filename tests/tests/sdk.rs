//! The plugin SDK as a third party gets it: the kit and core-options package
//! and pass `cargo publish --dry-run`; the kit's WIT is the contract's; and a
//! plugin made with `nix2dream plugins new` in a directory outside this
//! repository builds with `nix2dream plugins build`, exactly as
//! docs/writing-a-plugin.md says, and renders through `--plugin PATH` and
//! `NIX2DREAM_PLUGIN_PATH`.

use nix2dream_e2e::*;
use serde_json::json;
use std::path::Path;
use std::process::Command;

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `version = "…"` of a crate's own Cargo.toml.
fn crate_version(manifest: &str) -> String {
    let line = read(repo_root().join(manifest)).lines().find(|l| l.starts_with("version = ")).map(str::to_owned);
    let line = line.unwrap_or_else(|| panic!("{manifest} has no literal version"));
    line.trim_start_matches("version = ").trim_matches('"').to_owned()
}

/// The newest contract: the last of wit/v*/.
fn latest_contract() -> String {
    let mut versions: Vec<Vec<u32>> = std::fs::read_dir(repo_root().join("wit"))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix('v').map(|v| v.split('.').map(|n| n.parse().unwrap()).collect()))
        .collect();
    versions.sort();
    versions.last().unwrap().iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

#[test]
fn the_kit_carries_the_newest_contract_and_is_versioned_with_it() {
    // wit/ is the source of truth; the kit crate holds a copy so that it
    // builds once packaged (a crate cannot reach outside itself).
    let contract = latest_contract();
    let source = read(repo_root().join(format!("wit/v{contract}/manager.wit")));
    let copy = read(repo_root().join("plugins/kit/wit/manager.wit"));
    assert!(
        source == copy,
        "plugins/kit/wit/manager.wit differs from wit/v{contract}/manager.wit: copy it (cp wit/v{contract}/manager.wit plugins/kit/wit/)"
    );
    assert_eq!(crate_version("plugins/kit/Cargo.toml"), contract, "the kit's version follows the contract it implements");
    assert_eq!(crate_version("core-options/Cargo.toml"), contract, "core-options is versioned with the kit");
    // Path dependencies carry versions, so that the packaged crates name theirs.
    let workspace = read(repo_root().join("Cargo.toml"));
    for dep in ["nix2dream-plugin-kit", "nix2dream-core-options"] {
        let line = workspace.lines().find(|l| l.starts_with(&format!("{dep} = "))).unwrap();
        assert!(line.contains(&format!("version = \"{contract}\"")), "{line}");
    }
}

#[test]
fn the_sdk_crates_pass_cargo_publish_dry_run() {
    // Packaged together, each verified by building it from its .crate file
    // (the kit against the packaged core-options); a target directory of its
    // own so that it never waits on the suite's build.
    let r = run(Command::new("cargo")
        .current_dir(repo_root())
        .env("CARGO_TARGET_DIR", repo_root().join("target/sdk-package"))
        .args(["publish", "--dry-run", "--allow-dirty", "-p", "nix2dream-core-options", "-p", "nix2dream-plugin-kit"]));
    assert!(r.ok, "{}", r.stderr);
    let contract = latest_contract();
    for krate in ["nix2dream-core-options", "nix2dream-plugin-kit"] {
        assert!(r.stderr.contains(&format!("Verifying {krate} v{contract}")), "{krate} was not verified:\n{}", r.stderr);
    }
    let files = run(Command::new("cargo")
        .current_dir(repo_root())
        .env("CARGO_TARGET_DIR", repo_root().join("target/sdk-package"))
        .args(["package", "--list", "--allow-dirty", "-p", "nix2dream-plugin-kit"]));
    assert!(files.stdout.lines().any(|l| l == "wit/manager.wit"), "the kit's WIT is not in the crate:\n{}", files.stdout);
}

/// A new plugin, built and used as docs/writing-a-plugin.md says, in a
/// temporary directory outside the repository. The one difference from a
/// stranger's machine: the kit is not on crates.io, so a `.cargo/config.toml`
/// above the plugin patches crates.io's `nix2dream-plugin-kit` (and
/// `nix2dream-core-options`) with this repository's; the generated crate
/// itself is untouched.
#[test]
fn a_plugin_made_with_plugins_new_builds_outside_the_repository_and_renders() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    assert!(!root.starts_with(repo_root()));
    std::fs::create_dir(root.join(".cargo")).unwrap();
    std::fs::write(
        root.join(".cargo/config.toml"),
        format!(
            "[patch.crates-io]\nnix2dream-plugin-kit = {{ path = {:?} }}\nnix2dream-core-options = {{ path = {:?} }}\n",
            repo_root().join("plugins/kit"),
            repo_root().join("core-options")
        ),
    )
    .unwrap();

    // $ nix2dream plugins new hello-sdk
    let r = run(nix2dream().current_dir(root).args(["plugins", "new", "hello-sdk"]));
    assert!(r.ok, "{}", r.stderr);
    let manifest = read(root.join("hello-sdk/Cargo.toml"));
    let kit = crate_version("plugins/kit/Cargo.toml");
    assert!(manifest.contains(&format!("nix2dream-plugin-kit = \"{kit}\"")), "a stranger's dependency line:\n{manifest}");
    assert!(!manifest.contains("wit-bindgen"), "a plugin needs the kit only:\n{manifest}");

    // $ cd hello-sdk && cargo test   (the template's unit tests, native;
    // its own target directory, kept between runs)
    let r = run(Command::new("cargo")
        .current_dir(root.join("hello-sdk"))
        .env("CARGO_TARGET_DIR", repo_root().join("target/sdk-native"))
        .arg("test"));
    assert!(r.ok && r.stdout.contains("test result: ok. 2 passed"), "{}{}", r.stdout, r.stderr);

    // $ nix2dream plugins build
    // (CARGO_TARGET_DIR: the one `./x build` compiles the bundled plugins
    // in, only so that std and the crates are not compiled again.)
    let target = repo_root().join("target/wasm");
    let r = run(nix2dream().current_dir(root.join("hello-sdk")).env("CARGO_TARGET_DIR", &target).args(["plugins", "build"]));
    assert!(r.ok, "{}", r.stderr);
    let component = target.join("nix2dream/hello-sdk.wasm");
    assert!(r.stderr.contains(&format!("built {}", component.display())), "{}", r.stderr);
    assert!(r.stderr.contains("contract nix2dream:manager@0.4.0"), "{}", r.stderr);

    let input = write_deployment(root, json!({"web": {"process": {"argv": ["httpd", "-h", "/srv/my site"]}, "env": {"GREETING": "it's $HOME"}}}), json!({}));
    let expected = "#!/bin/sh\nexport GREETING='it'\\''s $HOME'\nexec httpd -h '/srv/my site'\n";
    // --plugin PATH
    let r = run(nix2dream().args(["render", "--plugin"]).arg(&component).arg(&input).arg("--out").arg(root.join("out1")));
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(read(root.join("out1/web.sh")), expected);
    // NIX2DREAM_PLUGIN_PATH and the plugin's name
    let r = run(nix2dream()
        .env("NIX2DREAM_PLUGIN_PATH", component.parent().unwrap())
        .args(["render", "--plugin", "hello-sdk"])
        .arg(&input)
        .arg("--out")
        .arg(root.join("out2")));
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(read(root.join("out2/web.sh")), expected);
    let r = run(nix2dream().env("NIX2DREAM_PLUGIN_PATH", component.parent().unwrap()).args(["plugins", "inspect", "hello-sdk"]));
    assert!(r.ok && r.stdout.contains("contract:    nix2dream:manager@0.4.0"), "{}{}", r.stdout, r.stderr);
}

#[test]
fn plugins_new_refuses_a_bad_name_and_an_existing_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let r = run(nix2dream().current_dir(tmp.path()).args(["plugins", "new", "My_Plugin"]));
    assert!(!r.ok && r.stderr.contains("not a plugin name"), "{}", r.stderr);
    std::fs::create_dir(tmp.path().join("taken")).unwrap();
    let r = run(nix2dream().current_dir(tmp.path()).args(["plugin", "new", "taken"]));
    assert!(!r.ok && r.stderr.contains("already exists"), "{}", r.stderr);
}

#[test]
fn plugins_build_outside_a_crate_says_where_to_run_it() {
    let tmp = tempfile::tempdir().unwrap();
    let r = run(nix2dream().current_dir(tmp.path()).args(["plugins", "build"]));
    assert!(!r.ok && r.stderr.contains("no Cargo.toml here"), "{}", r.stderr);
}
