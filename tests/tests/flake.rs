//! The Nix user's front door (flake.nix, default.nix, nix/render.nix,
//! nix/nixos-module.nix), as far as machines without a full nixpkgs allow:
//!
//! - every .nix file of the repository parses; the builder scripts are
//!   shellcheck-clean; nix/package.nix, with stand-ins for nixpkgs' Rust
//!   tooling, builds what `./x build` builds;
//! - with nixpkgs' lib alone (`--override-input nixpkgs` to a lib-only
//!   flake) `nix flake show` and `nix flake check --no-build` pass; the
//!   output names evaluate without touching a package; and
//!   `lib.evalServices` gives what `nix2dream eval` gives; so does
//!   default.nix;
//! - `lib.render`'s builder script, run outside Nix with the inputs the
//!   flake computes (the deployment JSON with its context, the plugins, the
//!   flags, a reference graph in exportReferencesGraph's format and no
//!   `nix-store` on PATH), renders what a direct `nix2dream render` renders,
//!   images included;
//! - `lib.render`'s derivation builds with this machine's Nix, given
//!   stand-ins for nixpkgs' `writeText` and `stdenvNoCC`, and its store
//!   output is that render too;
//! - the NixOS module gives the units of the nixos plugin's module.nix,
//!   with a pre-rendered directory (no import from derivation) and by its
//!   own render (lib.render with the stand-ins, imported from).
//!
//! With a full nixpkgs (`NIX2DREAM_NIXPKGS` with `nixos/` and `pkgs/`):
//! `nix flake show`, the derivations instantiate, NixOS evaluates the
//! module, and `nix build` builds the package and renders in the sandbox.
//! Elsewhere those are listed as skipped.

use nix2dream_e2e::nixos_units::{evaluate, nix_instantiate};
use nix2dream_e2e::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const NIX_FLAGS: [&str; 4] = ["--option", "build-users-group", "", "--extra-experimental-features"];

/// `nix` with flakes on, as root without a nixbld group.
fn nix() -> Command {
    let mut cmd = Command::new("nix");
    cmd.args(NIX_FLAGS).arg("nix-command flakes");
    cmd
}

/// A copy of what the flake's lib side reads (no Cargo sources, no target/):
/// `lib` and `nixosModules` must evaluate from these files alone.
fn flake_copy(tmp: &Path) -> PathBuf {
    let dir = tmp.join("flake");
    let root = repo_root();
    for entry in ["flake.nix", "default.nix", "nix", "examples", "tests/nixos"] {
        let to = dir.join(entry);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let r = run(Command::new("cp").arg("-r").arg(root.join(entry)).arg(&to));
        assert!(r.ok, "cp {entry}: {}", r.stderr);
    }
    dir
}

/// nixpkgs' lib/ as a flake to override the input with: `lib` only, as
/// nixpkgs-lib is (a user calling only `lib` may follow such an input), or
/// with `packages_throw`, also a `legacyPackages` whose every system throws:
/// outputs may name packages, not touch them.
fn nixpkgs_flake(nixpkgs: &Path, tmp: &Path, packages_throw: bool) -> String {
    let dir = tmp.join(if packages_throw { "nixpkgs-throwing" } else { "nixpkgs-lib" });
    std::fs::create_dir_all(&dir).unwrap();
    let r = run(Command::new("cp").arg("-r").arg(nixpkgs.join("lib")).arg(dir.join("lib")));
    assert!(r.ok, "{}", r.stderr);
    let packages = if packages_throw {
        "legacyPackages = builtins.listToAttrs (map (system: { name = system; value = throw \"no nixpkgs packages on this machine\"; }) [ \"x86_64-linux\" \"aarch64-linux\" ]);"
    } else {
        ""
    };
    std::fs::write(dir.join("flake.nix"), format!("{{ outputs = _: {{ lib = import ./lib; {packages} }}; }}\n")).unwrap();
    format!("path:{}", dir.display())
}

/// `nix eval --json FLAKE#ATTR --apply F` with nixpkgs overridden; impure, so
/// that the examples may be read by absolute path.
fn flake_eval(flake: &Path, nixpkgs: &str, attr: &str, apply: &str) -> Result<Value, String> {
    let r = run(nix()
        .args(["eval", "--json", "--impure", "--no-write-lock-file", "--override-input", "nixpkgs", nixpkgs])
        .arg(format!("path:{}#{attr}", flake.display()))
        .args(["--apply", apply]));
    if r.ok {
        Ok(serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout)))
    } else {
        Err(r.stderr)
    }
}

fn eval_with_host(nixpkgs: &Path, file: &Path) -> Value {
    let r = run(nix2dream().arg("eval").arg(file).env("NIX2DREAM_NIXPKGS", nixpkgs));
    assert!(r.ok, "nix2dream eval {}: {}", file.display(), r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

/// Every .nix file under `dir` (not target/, dist/ or .git).
fn nix_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if !matches!(name.to_str(), Some("target" | "dist" | ".git")) {
                nix_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "nix") {
            out.push(path);
        }
    }
}

#[test]
fn every_nix_file_parses_and_the_builder_scripts_are_shellcheck_clean() {
    let mut files = Vec::new();
    nix_files(&repo_root(), &mut files);
    for required in ["flake.nix", "default.nix", "nix/render.nix", "nix/package.nix", "nix/nixos-module.nix"] {
        assert!(files.contains(&repo_root().join(required)), "{required} is missing");
    }
    for file in &files {
        let r = run(nix_instantiate().arg("--parse").arg(file));
        assert!(r.ok, "{} does not parse: {}", file.display(), r.stderr);
    }
    let r = run(Command::new("shellcheck")
        .args(["-s", "sh"])
        .arg(repo_root().join("nix/render-builder.sh"))
        .arg(repo_root().join("nix/nix-store-from-graph.sh")));
    assert!(r.ok, "shellcheck (apt-get install shellcheck): {}{}", r.stdout, r.stderr);
}

#[test]
fn flake_outputs_and_lib_evaluate_with_only_nixpkgs_lib() {
    let Some(nixpkgs) = nixpkgs_or_skip("flake::flake_outputs_and_lib_evaluate_with_only_nixpkgs_lib") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let flake = flake_copy(tmp.path());
    let np = nixpkgs_flake(&nixpkgs, tmp.path(), false);

    // With nixpkgs' lib alone: no per-system outputs, and the flake shows
    // and checks.
    let overridden = ["--no-write-lock-file", "--override-input", "nixpkgs", &np];
    let r = run(nix().args(["flake", "show", "--json"]).args(overridden).arg(format!("path:{}", flake.display())));
    assert!(r.ok, "nix flake show: {}", r.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&r.stdout).unwrap(),
        json!({"apps": {}, "checks": {}, "devShells": {}, "packages": {}, "lib": {"type": "unknown"},
               "nixosModules": {"default": {"type": "nixos-module"}}, "overlays": {"default": {"type": "nixpkgs-overlay"}}})
    );
    let r = run(nix().args(["flake", "check", "--no-build"]).args(overridden).arg(format!("path:{}", flake.display())));
    assert!(r.ok, "nix flake check: {}", r.stderr);

    // With packages that throw when touched: every per-system output is
    // named without touching them.
    let throwing = nixpkgs_flake(&nixpkgs, tmp.path(), true);
    let names = |attr: &str| flake_eval(&flake, &throwing, attr, "builtins.attrNames").unwrap_or_else(|e| panic!("{attr}: {e}"));
    assert_eq!(names("lib"), json!(["evalDeploymentModules", "evalServices", "evalServicesWithContext", "modules", "render", "renderInputs"]));
    for output in ["packages", "apps", "devShells", "checks"] {
        assert_eq!(names(output), json!(["aarch64-linux", "x86_64-linux"]), "{output}");
    }
    assert_eq!(names("packages.x86_64-linux"), json!(["default", "demo-procfile", "nix2dream"]));
    assert_eq!(names("apps.x86_64-linux"), json!(["default"]));
    assert_eq!(names("devShells.x86_64-linux"), json!(["default"]));
    assert_eq!(names("checks.x86_64-linux"), json!(["nix-layer", "package", "render-demo"]));
    assert_eq!(names("nixosModules"), json!(["default"]));
    assert_eq!(names("overlays"), json!(["default"]));
    let e = flake_eval(&flake, &throwing, "packages.x86_64-linux.default", "p: p.name").expect_err("a package evaluated without pkgs");
    assert!(e.contains("no nixpkgs packages on this machine"), "{e}");

    // lib.evalServices is the host's evaluation, for both examples.
    for example in ["demo", "containers"] {
        let file = repo_root().join(format!("examples/{example}/services.nix"));
        let expected = eval_with_host(&nixpkgs, &file);
        let got = flake_eval(&flake, &np, "lib.evalServices", &format!("f: f {{ modules = [ {} ]; }}", file.display()))
            .unwrap_or_else(|e| panic!("lib.evalServices {example}: {e}"));
        assert_eq!(got, expected, "lib.evalServices of examples/{example}");
    }

    // default.nix, for users without flakes: the same lib.
    let file = repo_root().join("examples/demo/services.nix");
    let expr = format!(
        "(import {}/default.nix {{ nixpkgs = {}; }}).lib.evalServices {{ modules = [ {} ]; }}",
        flake.display(),
        nixpkgs.display(),
        file.display()
    );
    let r = run(nix_instantiate().args(["--eval", "--strict", "--json", "--read-write-mode", "-E", &expr]));
    assert!(r.ok, "default.nix: {}", r.stderr);
    assert_eq!(serde_json::from_str::<Value>(&r.stdout).unwrap(), eval_with_host(&nixpkgs, &file));

    // A deployment given evaluated (or as a JSON file) has no context: the
    // store paths it names are made inputs by name (they must exist).
    let containers = repo_root().join("examples/containers/services.nix");
    let v = flake_eval(
        &flake,
        &np,
        "lib",
        &format!(
            "l: let r = l.renderInputs {{ deployment = l.evalServices {{ modules = [ {} ]; }}; plugins = [ \"compose\" ]; strict = true; extraArgs = [ \"--fuel\" \"1000\" ]; }}; \
             in {{ inherit (r) plugins renderFlags; context = builtins.getContext r.deploymentText; }}",
            containers.display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let busybox = eval_with_host(&nixpkgs, &containers)["services"]["web"]["package"].clone();
    assert_eq!(v["context"], json!({busybox.as_str().unwrap(): {"path": true}}));
    assert_eq!(v["renderFlags"], json!("--strict --fuel 1000"));
    let json_file = repo_root().join("examples/demo/deployment.json");
    let v = flake_eval(&flake, &np, "lib.renderInputs", &format!("f: (f {{ deployment = {}; plugins = [ \"procfile\" ]; }}).deploymentText", json_file.display()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.as_str().unwrap(), std::fs::read_to_string(&json_file).unwrap(), "a JSON file is rendered as it is");

    // lib.render refuses what it cannot pass on.
    let e = flake_eval(&flake, &np, "lib.renderInputs", &format!("f: (f {{ modules = [ {} ]; plugins = [ ]; }}).plugins", file.display()))
        .expect_err("no plugins accepted");
    assert!(e.contains("`plugins` must be a non-empty list"), "{e}");
    let e = flake_eval(&flake, &np, "lib.renderInputs", "f: (f { plugins = [ \"compose\" ]; }).name").expect_err("no input accepted");
    assert!(e.contains("exactly one of `modules` and `deployment`"), "{e}");
}

/// nix/package.nix with stand-ins for nixpkgs' Rust tooling: it builds
/// what `./x build` builds (the same bundled plugins, componentized by
/// xtask; vm-init static for the host triple) from a source holding every
/// workspace member, and nothing of target/.
#[test]
fn the_package_builds_what_x_build_builds() {
    let Some(nixpkgs) = nixpkgs_or_skip("flake::the_package_builds_what_x_build_builds") else { return };
    let expr = format!(
        r#"let
  lib = import {np}/lib;
  drv = import {root}/nix/package.nix {{
    inherit lib;
    stdenv.hostPlatform.rust.rustcTargetSpec = "x86_64-unknown-linux-gnu";
    rustPlatform.buildRustPackage = attrs: attrs;
    lld = "/lld";
    glibc.static = "/glibc-static";
  }};
in {{
  inherit (drv) pname version buildPhase installPhase buildInputs CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER;
  src = builtins.attrNames (builtins.readDir drv.src);
  lock = builtins.readFile drv.cargoLock.lockFile;
}}"#,
        np = nixpkgs.display(),
        root = repo_root().display()
    );
    let r = run(nix_instantiate().args(["--eval", "--strict", "--json", "--read-write-mode", "-E", &expr]));
    assert!(r.ok, "nix/package.nix: {}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["pname"], json!("nix2dream"));
    assert_eq!(v["lock"].as_str().unwrap(), std::fs::read_to_string(repo_root().join("Cargo.lock")).unwrap());

    // Every workspace member's top directory is in the source; target/ is not.
    let src: Vec<&str> = v["src"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    let manifest = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    let members = manifest.split("members = [").nth(1).unwrap().split(']').next().unwrap();
    for member in members.split(',').map(|m| m.trim().trim_matches('"')).filter(|m| !m.is_empty()) {
        let top = member.split('/').next().unwrap();
        assert!(src.contains(&top), "{member} is not in the package's source {src:?}");
    }
    assert!(src.contains(&"wit") && src.contains(&"nix") && !src.contains(&"target"), "{src:?}");

    // The bundled plugins of ./x (PLUGINS entries installed into dist/).
    let x = std::fs::read_to_string(repo_root().join("x")).unwrap();
    let bundled: Vec<(String, String)> = x
        .lines()
        .filter(|l| l.contains(":$DIST/lib/nix2dream/plugins\""))
        .map(|l| {
            let spec = l.trim().trim_matches('"');
            let mut parts = spec.split(':');
            (parts.next().unwrap().to_owned(), parts.next().unwrap().to_owned())
        })
        .collect();
    assert_eq!(bundled.len(), 7, "{bundled:?}");
    let build = v["buildPhase"].as_str().unwrap();
    let install = v["installPhase"].as_str().unwrap();
    for (krate, name) in &bundled {
        assert!(build.contains(&format!("-p {krate}")), "{krate} is not built for wasm32:\n{build}");
        let wasm = format!("target/wasm/wasm32-unknown-unknown/release/{}.wasm \"$out/lib/nix2dream/plugins/{name}.wasm\"", krate.replace('-', "_"));
        assert!(install.contains(&format!("target/release/xtask componentize {wasm}")), "{name}:\n{install}");
    }
    assert_eq!(install.matches("xtask componentize").count(), bundled.len(), "{install}");
    assert!(build.contains("--target wasm32-unknown-unknown"), "{build}");
    assert!(build.contains("RUSTFLAGS=\"-C target-feature=+crt-static\"") && build.contains("-p nix2dream-vm-init --target x86_64-unknown-linux-gnu"), "{build}");
    assert!(install.contains("\"$out/lib/nix2dream/vm-init\"") && install.contains("\"$out/share/nix2dream/nix\""), "{install}");
    assert_eq!(v["buildInputs"], json!(["/glibc-static"]));
    assert_eq!(v["CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER"], json!("/lld/bin/wasm-ld"));
}

/// What `lib.renderInputs` gives, as the builder's environment sees it.
struct RenderInputs {
    name: String,
    deployment_text: String,
    plugins: String,
    render_flags: String,
    /// The store paths the deployment text's context names.
    context: Vec<String>,
}

fn render_inputs(flake: &Path, np: &str, args: &str) -> RenderInputs {
    let v = flake_eval(
        flake,
        np,
        "lib.renderInputs",
        &format!(
            "f: let r = f {args}; in {{ inherit (r) name plugins renderFlags; text = r.deploymentText; \
             context = builtins.attrNames (builtins.getContext r.deploymentText); }}"
        ),
    )
    .unwrap_or_else(|e| panic!("lib.renderInputs: {e}"));
    RenderInputs {
        name: v["name"].as_str().unwrap().to_owned(),
        deployment_text: v["text"].as_str().unwrap().to_owned(),
        plugins: v["plugins"].as_str().unwrap().to_owned(),
        render_flags: v["renderFlags"].as_str().unwrap().to_owned(),
        context: v["context"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect(),
    }
}

/// The reference graph Nix's exportReferencesGraph writes for `roots`
/// (path, empty deriver, number of references, references), from the
/// database through nix-store.
fn reference_graph(roots: &[String]) -> String {
    let mut out = String::new();
    if roots.is_empty() {
        return out;
    }
    let r = run(Command::new("nix-store").args(["--query", "--requisites"]).args(roots).env("NIX_CONFIG", "build-users-group ="));
    assert!(r.ok, "{}", r.stderr);
    for path in r.stdout.lines() {
        let refs = run(Command::new("nix-store").args(["--query", "--references", path]).env("NIX_CONFIG", "build-users-group ="));
        assert!(refs.ok, "{}", refs.stderr);
        let refs: Vec<&str> = refs.stdout.lines().collect();
        out += &format!("{path}\n\n{}\n", refs.len());
        for r in refs {
            out += &format!("{r}\n");
        }
    }
    out
}

/// A directory of symbolic links to just the tools the builder scripts use:
/// no nix-store, so the host's closure queries can only reach the graph.
fn minimal_path(tmp: &Path) -> PathBuf {
    let bin = tmp.join("minimal-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["sh", "mktemp", "rm", "mkdir", "chmod", "awk"] {
        let found = ["/bin", "/usr/bin"].iter().map(|d| Path::new(d).join(tool)).find(|p| p.exists());
        let found = found.unwrap_or_else(|| panic!("{tool} not found in /bin or /usr/bin"));
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    bin
}

fn without_bookkeeping(snapshot: Vec<(PathBuf, Vec<u8>)>) -> Vec<(PathBuf, Vec<u8>)> {
    snapshot.into_iter().filter(|(p, _)| !p.starts_with(".nix2dream")).collect()
}

#[test]
fn the_render_builder_outside_nix_renders_what_nix2dream_render_does_images_included() {
    let Some(nixpkgs) = nixpkgs_or_skip("flake::the_render_builder_outside_nix_renders_what_nix2dream_render_does_images_included") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let flake = flake_copy(tmp.path());
    let np = nixpkgs_flake(&nixpkgs, tmp.path(), false);
    let services = repo_root().join("examples/containers/services.nix");

    let inputs = render_inputs(
        &flake,
        &np,
        &format!("{{ modules = [ {} ]; plugins = [ \"compose\" \"procfile\" ]; allowUnsupported = [ \"healthcheck\" ]; }}", services.display()),
    );
    assert_eq!(inputs.name, "nix2dream-containers");
    assert_eq!(inputs.plugins, "compose procfile");
    assert_eq!(inputs.render_flags, "--allow-unsupported healthcheck");
    // The deployment's one store path (busybox) is in the context: an input
    // of the derivation, so Nix would build and mount it.
    let deployment: Value = serde_json::from_str(&inputs.deployment_text).unwrap();
    let busybox = deployment["services"]["web"]["package"].as_str().unwrap().to_owned();
    assert_eq!(inputs.context, std::slice::from_ref(&busybox));

    // The builder's directory, as Nix prepares it: the JSON (writeText's
    // output) and the graph of its references.
    let build = tmp.path().join("build");
    std::fs::create_dir_all(&build).unwrap();
    let json = build.join("deployment.json");
    std::fs::write(&json, &inputs.deployment_text).unwrap();
    std::fs::write(build.join("closure"), reference_graph(&inputs.context)).unwrap();

    let out = tmp.path().join("out-builder");
    let r = run(Command::new("sh")
        .arg(repo_root().join("nix/render-builder.sh"))
        .current_dir(&build)
        .env_clear()
        .env("PATH", minimal_path(tmp.path()))
        .env("TMPDIR", &build)
        .env("HOME", "/homeless-shelter")
        .env("out", &out)
        .env("nix2dream", dist().join("bin/nix2dream"))
        .env("deploymentPath", &json)
        .env("plugins", &inputs.plugins)
        .env("renderFlags", &inputs.render_flags)
        .env("closureGraph", "closure")
        .env("nixStoreFromGraph", repo_root().join("nix/nix-store-from-graph.sh")));
    assert!(r.ok, "render-builder.sh failed: {}{}", r.stdout, r.stderr);
    assert!(!out.join(".nix2dream").exists(), "the bookkeeping stays out of the store output");
    assert!(!Path::new("/homeless-shelter").exists());

    let direct = render_directly(&services, &tmp.path().join("out-direct"), &nixpkgs);

    let built = snapshot(&out);
    let names: Vec<String> = built.iter().map(|(p, _)| p.display().to_string()).collect();
    assert!(names.contains(&"compose/images/web.tar".to_owned()), "{names:?}");
    assert!(names.contains(&"procfile/Procfile".to_owned()), "{names:?}");
    assert_eq!(built, without_bookkeeping(snapshot(&direct)), "the builder's output differs from nix2dream render's");

    // With a graph that lacks the image's closure, the image cannot be
    // built: the host says the path is not valid, as nix-store would.
    std::fs::write(build.join("closure"), "").unwrap();
    let r = run(Command::new("sh")
        .arg(repo_root().join("nix/render-builder.sh"))
        .current_dir(&build)
        .env_clear()
        .env("PATH", minimal_path(&tmp.path().join("again")))
        .env("TMPDIR", &build)
        .env("out", tmp.path().join("out-missing"))
        .env("nix2dream", dist().join("bin/nix2dream"))
        .env("deploymentPath", &json)
        .env("plugins", "compose")
        .env("renderFlags", "")
        .env("closureGraph", "closure")
        .env("nixStoreFromGraph", repo_root().join("nix/nix-store-from-graph.sh")));
    assert!(!r.ok, "rendered images without their closure");
    assert!(r.stderr.contains("is not valid") && r.stderr.contains(&busybox), "{}", r.stderr);
}

/// Stand-ins for what `lib.render` takes from nixpkgs: `writeText` and
/// `stdenvNoCC.mkDerivation` as plain `derivation`s whose tools are those
/// of `tools` (a [`minimal_path`]).
fn stand_in_pkgs(tools: &Path) -> String {
    format!(
        r#"(let
  tools = "{tools}";
  system = builtins.currentSystem;
in {{
  writeText = name: text: derivation {{
    inherit name system text;
    builder = "${{tools}}/sh";
    args = [ "-c" ''printf '%s' "$text" > "$out"'' ];
  }};
  stdenvNoCC.mkDerivation = attrs: derivation (builtins.removeAttrs attrs [ "passthru" "meta" ] // {{
    inherit system;
    builder = "${{tools}}/sh";
    args = [ "-c" attrs.buildCommand ];
    PATH = tools;
  }});
}})"#,
        tools = tools.display()
    )
}

/// `lib.render`'s derivation built by this machine's Nix, with stand-ins for
/// the two things it takes from nixpkgs (`writeText`, `stdenvNoCC`: plain
/// `derivation`s whose PATH is [`minimal_path`]) and this checkout's host.
/// Nix itself does the rest: the deployment's context makes busybox an
/// input, exportReferencesGraph writes the graph, the builder script runs.
/// (These machines build without a sandbox; the real sandbox is the full
/// nixpkgs test's.)
#[test]
fn lib_render_builds_with_nix_and_stand_ins_for_nixpkgs_stdenv() {
    let Some(nixpkgs) = nixpkgs_or_skip("flake::lib_render_builds_with_nix_and_stand_ins_for_nixpkgs_stdenv") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let services = repo_root().join("examples/containers/services.nix");
    let expr = format!(
        r#"let
  lib = import {np}/lib;
  render = (import {root}/nix/render.nix {{ inherit lib; }}).render;
  pkgs = {pkgs};
in
render {{
  inherit pkgs;
  package = {{ outPath = "{dist}"; }};
  modules = [ {services} ];
  plugins = [ "compose" "procfile" ];
  allowUnsupported = [ "healthcheck" ];
}}"#,
        np = nixpkgs.display(),
        root = repo_root().display(),
        pkgs = stand_in_pkgs(&minimal_path(tmp.path())),
        dist = dist().display(),
        services = services.display()
    );
    let r = run(Command::new("nix-build")
        .args(["--option", "build-users-group", "", "--option", "substituters", "", "--no-out-link", "-E", &expr]));
    assert!(r.ok, "nix-build of lib.render's derivation: {}", r.stderr);
    let out = PathBuf::from(r.stdout.trim());
    assert!(out.starts_with("/nix/store") && out.to_string_lossy().ends_with("-nix2dream-containers"), "{}", out.display());

    let direct = render_directly(&services, &tmp.path().join("out-direct"), &nixpkgs);
    let built = snapshot(&out);
    assert!(built.iter().any(|(p, _)| p == Path::new("compose/images/web.tar")), "{built:?}");
    assert_eq!(built, without_bookkeeping(snapshot(&direct)), "the store output differs from nix2dream render's");
}

#[test]
fn nix_store_from_graph_answers_like_nix_store() {
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    // A store path with references (busybox, and the script it runs), so
    // the closure is more than the path itself.
    let expr = format!(
        "let b = builtins.storePath \"{busybox}\"; in derivation {{ name = \"refers-to-busybox\"; \
         system = builtins.currentSystem; builder = \"${{b}}/bin/sh\"; args = [ \"-c\" \"echo ${{b}} > $out\" ]; }}"
    );
    let r = run(Command::new("nix-build").args(["--option", "build-users-group", "", "--option", "substituters", "", "--no-out-link", "-E", &expr]));
    assert!(r.ok, "{}", r.stderr);
    let refers = r.stdout.trim().to_owned();
    let graph = tmp.path().join("graph");
    std::fs::write(&graph, reference_graph(std::slice::from_ref(&refers))).unwrap();
    let shim = |args: &[&str]| {
        run(Command::new("sh").arg(repo_root().join("nix/nix-store-from-graph.sh")).args(args).env("NIX2DREAM_CLOSURE_GRAPH", &graph))
    };
    let real = run(Command::new("nix-store").args(["-qR", &refers]).env("NIX_CONFIG", "build-users-group ="));
    assert_eq!(real.stdout.lines().count(), 2, "{}", real.stdout);
    let sorted = |s: &str| {
        let mut v: Vec<String> = s.lines().map(str::to_owned).collect();
        v.sort();
        v
    };
    for args in [vec!["--query", "--requisites"], vec!["-qR"], vec!["-q", "-R"]] {
        let inside = format!("{refers}/inside");
        let mut a = args.clone();
        a.push(&inside);
        let r = shim(&a);
        assert!(r.ok, "{args:?}: {}", r.stderr);
        assert_eq!(sorted(&r.stdout), sorted(&real.stdout), "{args:?}");
    }
    let r = shim(&["--query", "--requisites", "/nix/store/00000000000000000000000000000000-nope"]);
    assert!(!r.ok && r.stderr.contains("is not valid"), "{}", r.stderr);
    let r = shim(&["--query", "--references", &busybox]);
    assert!(!r.ok && r.code == Some(2), "{}", r.stderr);
}

/// tests/nixos/eval.nix's view of a NixOS configuration made of the flake's
/// module and `config` (with NixOS's option declarations), plus the
/// deployment the module evaluated.
fn nixos_module_eval(nixpkgs: &Path, config: &Path) -> Result<Value, String> {
    let root = repo_root();
    let expr = format!(
        "let lib = import {np}/lib; \
             base = import {root}/tests/nixos/eval.nix {{ inherit lib; module = {root}/nix/nixos-module.nix; extraModules = [ {config} ]; }}; \
             system = lib.evalModules {{ modules = [ {root}/tests/nixos/options.nix {root}/nix/nixos-module.nix {config} ]; specialArgs.modulesPath = {root}/tests/nixos/modules; }}; \
         in base // {{ deployments = lib.mapAttrs (_: d: d.deployment) system.config.nix2dream.deployments; }}",
        np = nixpkgs.display(),
        root = root.display(),
        config = config.display()
    );
    // Builds (the module's own render) find nothing to substitute here.
    let r = run(nix_instantiate().args(["--option", "substituters", "", "--eval", "--strict", "--json", "--read-write-mode", "-E", &expr]));
    if r.ok {
        Ok(serde_json::from_str(&r.stdout).unwrap())
    } else {
        Err(r.stderr)
    }
}

#[test]
fn the_nixos_module_applies_the_nixos_plugins_module_nix() {
    let Some(nixpkgs) = nixpkgs_or_skip("flake::the_nixos_module_applies_the_nixos_plugins_module_nix") else { return };
    let tmp = tempfile::tempdir().unwrap();
    // A deployment without a name: the attribute's name is used.
    let services = tmp.path().join("services.nix");
    std::fs::write(
        &services,
        r#"{ ... }: {
  settings.nixos.openFirewall = true;
  services.web = {
    process.argv = [ "/bin/httpd" "-f" "-p" "8080" ];
    user = "www";
    ports.http.port = 8080;
  };
  services.worker = { process.argv = [ "/bin/sleep" "1000" ]; dependsOn.web = { }; replicas = 2; };
}
"#,
    )
    .unwrap();
    let named = tmp.path().join("named.nix");
    std::fs::write(&named, "{ name = \"shop\"; }\n").unwrap();

    // What the CLI renders for the same modules (the name given as a module).
    let rendered = tmp.path().join("rendered");
    let both = tmp.path().join("both.nix");
    std::fs::write(&both, format!("{{ imports = [ {} {} ]; }}\n", services.display(), named.display())).unwrap();
    let r = run(nix2dream().args(["render", "--plugin", "nixos"]).arg(&both).arg("--out").arg(&rendered).env("NIX2DREAM_NIXPKGS", &nixpkgs));
    assert!(r.ok, "{}", r.stderr);
    let direct = evaluate(&nixpkgs, &rendered.join("module.nix"), &[]).unwrap_or_else(|e| panic!("{e}"));

    // The NixOS configuration: the deployment declared by attribute name,
    // the rendered directory given (no import from derivation here), and
    // no pkgs at all (nothing may need it).
    let config = tmp.path().join("configuration.nix");
    std::fs::write(
        &config,
        format!(
            "{{ ... }}: {{\n  _module.args.pkgs = throw \"pkgs is not available in this test\";\n  \
             nix2dream.deployments.shop = {{ modules = [ {} ]; rendered = {}; }};\n}}\n",
            services.display(),
            rendered.display()
        ),
    )
    .unwrap();
    let v = nixos_module_eval(&nixpkgs, &config).unwrap_or_else(|e| panic!("the NixOS module does not evaluate: {e}"));
    assert_eq!(v["failedAssertions"], json!([]));
    for key in ["units", "wantedBy", "users", "groups", "firewall", "extraDependencies"] {
        assert_eq!(v[key], direct[key], "{key}: the module's result differs from module.nix's");
    }
    let mut units: Vec<&String> = v["units"].as_object().unwrap().keys().collect();
    units.sort();
    assert_eq!(units, ["shop-web.service", "shop-worker@.service", "shop.target"]);
    assert_eq!(v["firewall"]["allowedTCPPorts"], json!([8080]));
    // The deployment it evaluated is the CLI's.
    assert_eq!(v["deployments"]["shop"], eval_with_host(&nixpkgs, &both));

    // Without `rendered`: the module renders with lib.render (stand-ins for
    // nixpkgs' writeText/stdenvNoCC, this checkout's nix2dream), and the
    // system's evaluation imports the result (IFD): the same units.
    let ifd = tmp.path().join("ifd.nix");
    std::fs::write(
        &ifd,
        format!(
            "{{ ... }}: {{\n  _module.args.pkgs = {pkgs};\n  \
             nix2dream.package = {{ type = \"derivation\"; name = \"nix2dream\"; outPath = \"{dist}\"; }};\n  \
             nix2dream.deployments.shop.modules = [ {services} ];\n}}\n",
            pkgs = stand_in_pkgs(&minimal_path(tmp.path())),
            dist = dist().display(),
            services = services.display()
        ),
    )
    .unwrap();
    let v = nixos_module_eval(&nixpkgs, &ifd).unwrap_or_else(|e| panic!("the NixOS module does not render by itself: {e}"));
    assert_eq!(v["failedAssertions"], json!([]));
    for key in ["units", "wantedBy", "users", "groups", "firewall", "extraDependencies"] {
        assert_eq!(v[key], direct[key], "{key}: the module's own render differs from module.nix's");
    }

    // Two deployments merge; an empty configuration sets nothing.
    let config2 = tmp.path().join("two.nix");
    std::fs::write(
        &config2,
        format!(
            "{{ ... }}: {{\n  _module.args.pkgs = throw \"no pkgs\";\n  \
             nix2dream.deployments.shop = {{ modules = [ {s} ]; rendered = {r}; }};\n  \
             systemd.services.extra.serviceConfig.ExecStart = \"/bin/true\";\n}}\n",
            s = services.display(),
            r = rendered.display()
        ),
    )
    .unwrap();
    let v = nixos_module_eval(&nixpkgs, &config2).unwrap_or_else(|e| panic!("{e}"));
    assert!(v["units"]["extra.service"].is_string() && v["units"]["shop-web.service"].is_string(), "{}", v["units"]);
    let empty = tmp.path().join("empty.nix");
    std::fs::write(&empty, "{ _module.args.pkgs = throw \"no pkgs\"; }\n").unwrap();
    let v = nixos_module_eval(&nixpkgs, &empty).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["units"], json!({}));
    assert_eq!(v["deployments"], json!({}));

    // A module.nix setting more than this module applies is an assertion.
    let odd = tmp.path().join("odd");
    std::fs::create_dir_all(&odd).unwrap();
    std::fs::write(odd.join("module.nix"), "{ ... }: { environment.etc.x.text = \"x\"; }\n").unwrap();
    let config3 = tmp.path().join("odd.nix");
    std::fs::write(
        &config3,
        format!(
            "{{ ... }}: {{ _module.args.pkgs = throw \"no pkgs\"; nix2dream.deployments.shop = {{ modules = [ {} ]; rendered = {}; }}; }}\n",
            services.display(),
            odd.display()
        ),
    )
    .unwrap();
    let v = nixos_module_eval(&nixpkgs, &config3).unwrap_or_else(|e| panic!("{e}"));
    assert!(v["failedAssertions"][0].as_str().unwrap().contains("sets environment"), "{v}");
}

// ---------------------------------------------------------------- full nixpkgs

#[test]
fn full_nixpkgs_flake_show_and_the_derivations_instantiate() {
    let Some(nixpkgs) = full_nixpkgs_or_skip("flake::full_nixpkgs_flake_show_and_the_derivations_instantiate") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let root = repo_root();
    let np = format!("path:{}", nixpkgs.display());
    let flake = format!("git+file://{}", root.display());
    let r = run(nix().args(["flake", "show", "--json", "--no-write-lock-file", "--override-input", "nixpkgs", &np]).arg(&flake));
    assert!(r.ok, "nix flake show: {}", r.stderr);
    let shown: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(shown["packages"]["x86_64-linux"]["default"]["type"], json!("derivation"), "{shown}");
    for attr in [
        "packages.x86_64-linux.default",
        "packages.x86_64-linux.demo-procfile",
        "devShells.x86_64-linux.default",
        "checks.x86_64-linux.nix-layer",
    ] {
        let r = run(nix()
            .args(["eval", "--raw", "--no-write-lock-file", "--override-input", "nixpkgs", &np])
            .arg(format!("{flake}#{attr}.drvPath")));
        assert!(r.ok && r.stdout.ends_with(".drv"), "{attr}: {}", r.stderr);
    }

    // NixOS itself takes the module (a pre-rendered directory: no IFD).
    let rendered = tmp.path().join("rendered");
    let services = root.join("examples/demo/services.nix");
    let r = run(nix2dream().args(["render", "--plugin", "nixos"]).arg(&services).arg("--out").arg(&rendered).env("NIX2DREAM_NIXPKGS", &nixpkgs));
    assert!(r.ok, "{}", r.stderr);
    let expr = format!(
        "let system = import {np}/nixos {{ configuration = {{ imports = [ {root}/nix/nixos-module.nix ]; boot.isContainer = true; \
         system.stateVersion = \"25.05\"; nix2dream.deployments.demo = {{ modules = [ {services} ]; rendered = {rendered}; }}; }}; }}; \
         in system.config.systemd.units.\"demo-web.service\".text",
        np = nixpkgs.display(),
        root = root.display(),
        services = services.display(),
        rendered = rendered.display()
    );
    let r = run(nix_instantiate().args(["--eval", "--strict", "--json", "-E", &expr]));
    assert!(r.ok, "NixOS does not evaluate the module: {}", r.stderr);
    assert!(r.stdout.contains("python3"), "{}", r.stdout);
}

#[test]
fn full_nixpkgs_nix_build_builds_the_host_and_renders_in_the_sandbox() {
    let Some(nixpkgs) = full_nixpkgs_or_skip("flake::full_nixpkgs_nix_build_builds_the_host_and_renders_in_the_sandbox (needs a binary cache or network for rustc and the crates)") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let np = format!("path:{}", nixpkgs.display());
    let flake = format!("git+file://{}", repo_root().display());
    let result = tmp.path().join("result");
    let r = run(nix()
        .args(["build", "--no-write-lock-file", "--override-input", "nixpkgs", &np, "--out-link"])
        .arg(&result)
        .arg(format!("{flake}#demo-procfile")));
    assert!(r.ok, "nix build .#demo-procfile: {}", r.stderr);
    let procfile = std::fs::read_to_string(result.join("Procfile")).unwrap();
    assert!(procfile.contains("web:"), "{procfile}");
    assert!(!result.join(".nix2dream").exists());
}

/// What `nix2dream render` itself writes for the plugins the flake's
/// render is given here (compose and procfile), to compare with.
fn render_directly(services: &Path, out: &Path, nixpkgs: &Path) -> PathBuf {
    let r = run(nix2dream()
        .args(["render", "--plugin", "compose", "--plugin", "procfile", "--allow-unsupported", "healthcheck"])
        .arg(services)
        .arg("--out")
        .arg(out)
        .env("NIX2DREAM_NIXPKGS", nixpkgs));
    assert!(r.ok, "{}", r.stderr);
    out.to_owned()
}
