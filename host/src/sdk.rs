//! Writing plugins outside this repository: `nix2dream plugins new NAME`
//! (a Rust crate on the plugin kit that builds as it is) and `nix2dream
//! plugins build` (that crate → a component, the way `./x build` does it for
//! the bundled plugins: the same toolchain choice, the same wit-component
//! step, then the host's own load checks).

use crate::plugin::{limits::Limits, Plugin};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The kit a new plugin depends on: the version of the contract the host
/// speaks last (tests/tests/sdk.rs holds it to plugins/kit/Cargo.toml).
pub const KIT_VERSION: &str = "0.4.0";

const WASM_TARGET: &str = "wasm32-unknown-unknown";

#[derive(clap::Subcommand)]
pub enum DevCommand {
    /// Create NAME/, a Rust plugin crate on the plugin kit that `plugins build` builds.
    New {
        /// The plugin's name (1 to 64 of [a-z0-9-]): its crate, its output folder, its `settings.NAME`.
        name: String,
        /// Depend on a local checkout of the kit (its directory) instead of the published crate.
        #[arg(long, value_name = "DIR")]
        kit_path: Option<PathBuf>,
    },
    /// Build the plugin crate in this directory into a component, DIR/<plugin name>.wasm.
    Build {
        /// The plugin crate's Cargo.toml (default: ./Cargo.toml).
        #[arg(long, value_name = "FILE")]
        manifest_path: Option<PathBuf>,
        /// Where to put the component (default: the crate's target/nix2dream/), a directory
        /// that can go on NIX2DREAM_PLUGIN_PATH.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Turn a core module made with wit-bindgen (C, …) into a component, checked like `plugins build` checks it.
    Componentize {
        /// The core module (e.g. clang's output).
        module: PathBuf,
        /// The component to write.
        output: PathBuf,
    },
}

pub fn run(command: DevCommand) -> Result<()> {
    match command {
        DevCommand::New { name, kit_path } => new(&name, kit_path.as_deref()),
        DevCommand::Componentize { module, output } => {
            let bytes = std::fs::read(&module).with_context(|| format!("reading {}", module.display()))?;
            let component = componentize(&bytes).with_context(|| format!("{}", module.display()))?;
            let plugin = write_checked(&component, &output)?;
            eprintln!("wrote {} ({} {}, contract nix2dream:manager@{})", output.display(), plugin.info.name, plugin.info.version, plugin.wit_version);
            Ok(())
        }
        DevCommand::Build { manifest_path, out_dir } => {
            let built = build(manifest_path.as_deref(), out_dir.as_deref())?;
            eprintln!(
                "built {} ({} {}, contract nix2dream:manager@{})\nuse it: nix2dream render --plugin {} …   or: NIX2DREAM_PLUGIN_PATH={} nix2dream render --plugin {} …",
                built.file.display(),
                built.name,
                built.version,
                built.contract,
                built.file.display(),
                built.file.parent().unwrap_or(Path::new(".")).display(),
                built.name
            );
            Ok(())
        }
    }
}

fn is_plugin_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.as_bytes()[0].is_ascii_lowercase()
}

/// `my-manager` → `MyManager`.
fn type_name(name: &str) -> String {
    name.split('-')
        .filter(|w| !w.is_empty())
        .map(|w| w[..1].to_ascii_uppercase() + &w[1..])
        .collect()
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The files of a new plugin crate named `name`: (path, contents).
pub fn template(name: &str, kit_path: Option<&Path>) -> Vec<(&'static str, String)> {
    let kit = match kit_path {
        None => toml_string(KIT_VERSION),
        Some(dir) => format!("{{ path = {}, version = {} }}", toml_string(&dir.display().to_string()), toml_string(KIT_VERSION)),
    };
    let fill = |text: &str| text.replace("@NAME@", name).replace("@TYPE@", &type_name(name));
    vec![
        ("Cargo.toml", fill(include_str!("../templates/plugin/Cargo.toml")).replace("\"@KIT_VERSION@\"", &kit)),
        ("src/lib.rs", fill(include_str!("../templates/plugin/lib.rs"))),
        (".gitignore", include_str!("../templates/plugin/gitignore").to_owned()),
    ]
}

fn new(name: &str, kit_path: Option<&Path>) -> Result<()> {
    if !is_plugin_name(name) {
        bail!("{name:?} is not a plugin name: use 1 to 64 of [a-z0-9-], starting with a letter");
    }
    let dir = Path::new(name);
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    let kit_path = match kit_path {
        Some(p) => Some(std::fs::canonicalize(p).with_context(|| format!("--kit-path {}", p.display()))?),
        None => None,
    };
    if let Some(kit) = &kit_path {
        if !kit.join("Cargo.toml").is_file() {
            bail!("--kit-path {}: no Cargo.toml there (give the kit's directory, plugins/kit in the nix2dream repository)", kit.display());
        }
    }
    for (path, contents) in template(name, kit_path.as_deref()) {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(&file, contents).with_context(|| format!("writing {}", file.display()))?;
    }
    eprintln!("created {name}/ (a plugin on nix2dream-plugin-kit {KIT_VERSION}); build it with: cd {name} && nix2dream plugins build");
    Ok(())
}

/// How cargo is run to build for wasm32-unknown-unknown (the choice `./x`'s
/// `wasm_cargo` makes).
struct Toolchain {
    cargo: PathBuf,
    env: Vec<(&'static str, String)>,
    extra_args: Vec<&'static str>,
    describe: String,
}

fn output_of(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn wasm_linker() -> Option<PathBuf> {
    let mut llvm: Vec<PathBuf> = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("llvm-"))
        .map(|e| e.path().join("bin/wasm-ld"))
        .collect();
    llvm.sort();
    llvm.into_iter().rev().chain([PathBuf::from("/usr/bin/wasm-ld"), PathBuf::from("/usr/bin/rust-lld")]).find(|p| p.is_file())
}

fn toolchain() -> Result<Toolchain> {
    // A rustup toolchain with the target.
    if output_of(Command::new("rustup").args(["target", "list", "--installed"])).is_some_and(|t| t.lines().any(|l| l == WASM_TARGET)) {
        let version = output_of(Command::new("rustc").arg("--version")).unwrap_or_default();
        return Ok(Toolchain { cargo: "cargo".into(), env: Vec::new(), extra_args: Vec::new(), describe: format!("rustup ({version})") });
    }
    // Debian's rustc-web with std sources: std rebuilt with -Zbuild-std.
    let (rustc, cargo) = (Path::new("/usr/bin/rustc"), Path::new("/usr/bin/cargo"));
    let sysroot = output_of(Command::new(rustc).args(["--print", "sysroot"]));
    let has_std_sources = sysroot.as_ref().is_some_and(|s| Path::new(s).join("lib/rustlib/src/rust/library/Cargo.lock").is_file());
    if let (true, true, Some(linker)) = (cargo.is_file(), has_std_sources, wasm_linker()) {
        let version = output_of(Command::new(rustc).arg("--version")).unwrap_or_default();
        let mut rustflags = std::env::var("RUSTFLAGS").unwrap_or_default();
        rustflags = format!("{rustflags} -Cpanic=abort").trim().to_owned();
        return Ok(Toolchain {
            cargo: cargo.to_owned(),
            env: vec![
                ("RUSTC", rustc.display().to_string()),
                ("RUSTC_BOOTSTRAP", "1".into()),
                ("RUSTFLAGS", rustflags),
                ("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", linker.display().to_string()),
            ],
            extra_args: vec!["-Zbuild-std=std,panic_abort"],
            describe: format!("Debian {version} + build-std, linker {}", linker.display()),
        });
    }
    bail!(
        "no toolchain here can build {WASM_TARGET} plugins. Either: rustup target add {WASM_TARGET}\n  \
         or (Debian/Ubuntu): apt-get install rustc-web cargo-web rust-web-src lld (any lld with wasm-ld)"
    )
}

/// What `plugins build` made.
pub struct Built {
    pub file: PathBuf,
    pub name: String,
    pub version: String,
    pub contract: String,
}

/// The package to build (the one whose Cargo.toml is `manifest`), its lib
/// target's name and the target directory, from `cargo metadata`.
fn package(cargo: &Path, manifest: &Path) -> Result<(String, String, PathBuf)> {
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--manifest-path"])
        .arg(manifest)
        .output()
        .with_context(|| format!("running {} metadata", cargo.display()))?;
    if !out.status.success() {
        bail!("cargo metadata failed for {}:\n{}", manifest.display(), String::from_utf8_lossy(&out.stderr).trim_end());
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).context("reading cargo metadata")?;
    let manifest = std::fs::canonicalize(manifest).with_context(|| format!("{}", manifest.display()))?;
    let pkg = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().and_then(|m| std::fs::canonicalize(m).ok()).as_deref() == Some(manifest.as_path()))
        .with_context(|| format!("{} is a workspace, not a package: pass the plugin crate's Cargo.toml with --manifest-path", manifest.display()))?;
    let name = pkg["name"].as_str().unwrap_or_default().to_owned();
    let lib = pkg["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["crate_types"].as_array().is_some_and(|k| k.iter().any(|k| k == "cdylib")))
        .with_context(|| {
            format!("package {name} has no cdylib library: add to its Cargo.toml\n[lib]\ncrate-type = [\"cdylib\", \"rlib\"]")
        })?;
    let lib_name = lib["name"].as_str().unwrap_or_default().replace('-', "_");
    let target_dir = PathBuf::from(meta["target_directory"].as_str().context("cargo metadata gave no target directory")?);
    Ok((name, lib_name, target_dir))
}

/// Wraps a core module built with the kit into a component (no WASI adapter:
/// the host would refuse it).
pub fn componentize(module: &[u8]) -> Result<Vec<u8>> {
    let wasi = wasi_imports(module);
    if !wasi.is_empty() {
        bail!(
            "the module imports WASI ({}): nix2dream gives plugins none.{}",
            wasi.iter().map(|i| format!("`{}`", crate::text::printable(i))).collect::<Vec<_>>().join(", "),
            crate::plugin::WITHOUT_WASI
        );
    }
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(module)
        .context("the module carries no nix2dream component type (does the crate call nix2dream_plugin_kit::export_manager!?)")?
        .encode()
        .context("turning the module into a component")
}

/// The WASI functions a core module imports (`wasi_snapshot_preview1.fd_write`).
fn wasi_imports(module: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        if let Ok(wasmparser::Payload::ImportSection(reader)) = payload {
            for import in reader.into_imports().flatten() {
                if import.module.starts_with("wasi") {
                    found.push(format!("{}.{}", import.module, import.name));
                }
            }
        }
    }
    found
}

pub fn build(manifest_path: Option<&Path>, out_dir: Option<&Path>) -> Result<Built> {
    let manifest = manifest_path.map(Path::to_owned).unwrap_or_else(|| PathBuf::from("Cargo.toml"));
    if !manifest.is_file() {
        bail!("no {} here: run `nix2dream plugins build` in the plugin crate's directory, or pass --manifest-path", manifest.display());
    }
    let tc = toolchain()?;
    let (package, lib_name, target_dir) = package(&tc.cargo, &manifest)?;
    eprintln!("building {package} for {WASM_TARGET} with {}", tc.describe);
    let status = Command::new(&tc.cargo)
        .args(["build", "--release", "--lib", "--target", WASM_TARGET, "--manifest-path"])
        .arg(&manifest)
        .args(["-p", &package])
        .args(&tc.extra_args)
        .envs(tc.env.iter().map(|(k, v)| (*k, v.as_str())))
        .status()
        .with_context(|| format!("running {}", tc.cargo.display()))?;
    if !status.success() {
        bail!("cargo build failed ({status})");
    }
    let module_file = target_dir.join(WASM_TARGET).join("release").join(format!("{lib_name}.wasm"));
    let module = std::fs::read(&module_file).with_context(|| format!("reading {}", module_file.display()))?;
    let component = componentize(&module).with_context(|| format!("{}", module_file.display()))?;
    let out_dir = out_dir.map(Path::to_owned).unwrap_or_else(|| target_dir.join("nix2dream"));
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    // Checked the way every render checks it, then named after the plugin.
    let staged = out_dir.join(format!("{lib_name}.wasm"));
    let plugin = write_checked(&component, &staged).with_context(|| format!("built {package}"))?;
    let file = out_dir.join(format!("{}.wasm", plugin.info.name));
    if file != staged {
        std::fs::rename(&staged, &file).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(Built { file, name: plugin.info.name.clone(), version: plugin.info.version.clone(), contract: plugin.wit_version.clone() })
}

/// Writes `component` to `output` if nix2dream loads it (imports,
/// contract, `info()`), through a temporary file beside it.
fn write_checked(component: &[u8], output: &Path) -> Result<Plugin> {
    let name = output.file_name().with_context(|| format!("{} is not a file name", output.display()))?;
    let staged = output.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&staged, component).with_context(|| format!("writing {}", staged.display()))?;
    // The size bound of a render does not apply: an interpreter's component
    // (Python) is bigger, and is loaded with --plugin-size-limit.
    let limits = Limits { plugin_bytes: usize::MAX >> 1, ..Limits::default() };
    let loaded = Plugin::load(&staged, limits, None).context("nix2dream refuses the component");
    match loaded {
        Ok(plugin) => {
            std::fs::rename(&staged, output).with_context(|| format!("writing {}", output.display()))?;
            Ok(plugin)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names_and_their_rust_types() {
        assert!(is_plugin_name("runit") && is_plugin_name("my-manager2"));
        assert!(!is_plugin_name("My") && !is_plugin_name("-x") && !is_plugin_name("") && !is_plugin_name("a_b"));
        assert_eq!(type_name("my-manager2"), "MyManager2");
    }

    #[test]
    fn the_template_depends_on_the_published_kit_or_a_local_one() {
        let files = template("runit", None);
        assert!(files[0].1.contains("nix2dream-plugin-kit = \"0.4.0\""), "{}", files[0].1);
        assert!(files[1].1.contains("pub struct Runit;") && !files[1].1.contains('@'));
        let local = template("runit", Some(Path::new("/src/nix2dream/plugins/kit")));
        assert!(local[0].1.contains("nix2dream-plugin-kit = { path = \"/src/nix2dream/plugins/kit\", version = \"0.4.0\" }"));
    }
}
