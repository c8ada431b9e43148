//! Loading a manager plugin and calling it inside its sandbox: no imports,
//! a fresh store per call, memory, fuel and output bounded.

pub mod engine;
mod info;
pub mod limits;
pub mod registry;
pub mod wit;

use crate::deployment::Deployment;
use anyhow::{anyhow, bail, Context, Result};
use limits::{Limits, MemoryCap};
use std::path::{Path, PathBuf};
use wasmtime::component::{types::ComponentItem, Component, Linker};
use wasmtime::{Engine, Store, Trap};
use wit::{since_v0_1_0 as v0_1, since_v0_2_0 as v0_2, since_v0_3_0 as v0_3};
use crate::bin_directories::BinDirectories;

pub use engine::Origin;
pub use wit::latest::{Artifact, Diagnostic, ImageRequest, PluginInfo, Rendered, Severity, VmRootRequest};

/// Instantiation, prepared once, for the contract version the plugin targets.
enum Prepared {
    V0_1(v0_1::ManagerPre<MemoryCap>),
    V0_2(v0_2::ManagerPre<MemoryCap>),
    V0_3(v0_3::ManagerPre<MemoryCap>),
}

pub struct Plugin {
    pub file: PathBuf,
    pub info: PluginInfo,
    /// The contract version the plugin exports, e.g. "0.1.0".
    pub wit_version: String,
    pub origin: Origin,
    engine: Engine,
    prepared: Prepared,
    limits: Limits,
}

/// Says whether `bytes` can be a plugin at all, before compiling anything.
fn check_is_component(file: &Path, bytes: &[u8]) -> Result<()> {
    if wasmparser::Parser::is_component(bytes) {
        Ok(())
    } else if wasmparser::Parser::is_core_wasm(bytes) {
        bail!(
            "{} is a core WebAssembly module, not a component: build the plugin with the \
             nix2dream plugin kit and turn it into a component (`./x build` does both)",
            file.display()
        )
    } else {
        bail!("{} is not a WebAssembly component (it does not start with the wasm magic bytes)", file.display())
    }
}

/// The contract version a component exports, refusing any import.
fn contract_version(engine: &Engine, component: &Component) -> Result<String> {
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(engine).map(|(name, _)| name.to_owned()).collect();
    if !imports.is_empty() {
        bail!(
            "it imports {} — nix2dream gives plugins no imports at all (no WASI, no host functions). \
             Build it for wasm32-unknown-unknown with the plugin kit, not for wasm32-wasip1/p2",
            imports.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
        );
    }
    let mut found = Vec::new();
    for (name, item) in ty.exports(engine) {
        if let (Some(version), ComponentItem::ComponentInstance(_)) =
            (name.strip_prefix(wit::INTERFACE).and_then(|rest| rest.strip_prefix('@')), item.ty)
        {
            return Ok(version.to_owned());
        }
        found.push(name.to_owned());
    }
    bail!(
        "it does not export `{}@<version>` (it exports: {}); is it a nix2dream manager plugin?",
        wit::INTERFACE,
        if found.is_empty() { "nothing".to_owned() } else { found.join(", ") }
    )
}

impl Plugin {
    pub fn load(file: &Path, limits: Limits, cache_dir: Option<&Path>) -> Result<Plugin> {
        let bytes = std::fs::read(file).with_context(|| format!("cannot read plugin {}", file.display()))?;
        check_is_component(file, &bytes)?;
        let engine = engine::new_engine()?;
        let (component, origin) = engine::compile(&engine, &bytes, cache_dir)
            .with_context(|| format!("plugin {} is not a valid component", file.display()))?;
        let wit_version = contract_version(&engine, &component)
            .with_context(|| format!("plugin {} refused", file.display()))?;
        let contract = match wit::Contract::for_version(&wit_version) {
            Some(contract) => contract,
            None => bail!(
                "plugin {} targets nix2dream:manager@{wit_version}, which this nix2dream ({}) does not know; \
                 it knows: {}. Use a nix2dream that supports it, or a plugin built for a known version",
                file.display(),
                env!("CARGO_PKG_VERSION"),
                wit::KNOWN_VERSIONS.join(", ")
            ),
        };
        let linker: Linker<MemoryCap> = Linker::new(&engine);
        let prepared = linker
            .instantiate_pre(&component)
            .and_then(|pre| match contract {
                wit::Contract::V0_1 => v0_1::ManagerPre::new(pre).map(Prepared::V0_1),
                wit::Contract::V0_2 => v0_2::ManagerPre::new(pre).map(Prepared::V0_2),
                wit::Contract::V0_3 => v0_3::ManagerPre::new(pre).map(Prepared::V0_3),
            })
            .map_err(|e| anyhow!("plugin {}: cannot prepare instantiation: {e:#}", file.display()))?;
        let mut plugin = Plugin {
            file: file.to_owned(),
            info: PluginInfo {
                name: file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
                version: "?".into(),
                description: String::new(),
                supported_options: Vec::new(),
                settings_schema: String::new(),
                usage: String::new(),
            },
            wit_version,
            origin,
            engine,
            prepared,
            limits,
        };
        plugin.info = match &plugin.prepared {
            Prepared::V0_1(pre) => v0_1::upgrade_info(plugin.call("info()", |s| {
                pre.instantiate(&mut *s)?.nix2dream_manager_plugin().call_info(s)
            })?),
            Prepared::V0_2(pre) => v0_2::upgrade_info(plugin.call("info()", |s| {
                pre.instantiate(&mut *s)?.nix2dream_manager_plugin().call_info(s)
            })?),
            Prepared::V0_3(pre) => {
                plugin.call("info()", |s| pre.instantiate(&mut *s)?.nix2dream_manager_plugin().call_info(s))?
            }
        };
        info::check(&plugin.info).map_err(|e| anyhow!("plugin {} is refused: {e}", file.display()))?;
        Ok(plugin)
    }

    /// Whether `render` gives it the services' `bin/` listings (0.3.0 and later).
    pub fn takes_bin_directories(&self) -> bool {
        matches!(self.prepared, Prepared::V0_3(_))
    }

    /// `name@version`, how every message names the plugin.
    pub fn label(&self) -> String {
        format!("plugin {}@{}", self.info.name, self.info.version)
    }

    /// Calls `render`; artifacts bigger than the output limit are refused.
    /// `bins` is what the services' packages hold (given to 0.3.0 plugins).
    pub fn render(&self, deployment: &Deployment, bins: &BinDirectories) -> Result<Result<Rendered, Vec<Diagnostic>>> {
        let name = &self.info.name;
        let result = match &self.prepared {
            Prepared::V0_1(pre) => {
                let input = v0_1::deployment_for(deployment, name);
                self.call("render()", |s| pre.instantiate(&mut *s)?.nix2dream_manager_plugin().call_render(s, &input))?
                    .map(v0_1::upgrade_rendered)
                    .map_err(|ds| ds.into_iter().map(v0_1::upgrade_diagnostic).collect())
            }
            Prepared::V0_2(pre) => {
                let input = v0_2::deployment_for(deployment, name);
                self.call("render()", |s| pre.instantiate(&mut *s)?.nix2dream_manager_plugin().call_render(s, &input))?
                    .map(v0_2::upgrade_rendered)
                    .map_err(|ds| ds.into_iter().map(v0_2::upgrade_diagnostic).collect())
            }
            Prepared::V0_3(pre) => {
                let input = v0_3::deployment_for(deployment, name, bins);
                self.call("render()", |s| pre.instantiate(&mut *s)?.nix2dream_manager_plugin().call_render(s, &input))?
            }
        };
        let (artifacts, diagnostics) = match &result {
            Ok(rendered) => (&rendered.artifacts[..], &rendered.diagnostics[..]),
            Err(diagnostics) => (&[][..], &diagnostics[..]),
        };
        let size: usize =
            artifacts.iter().map(artifact_size).sum::<usize>() + diagnostics.iter().map(diagnostic_size).sum::<usize>();
        if size > self.limits.output_bytes {
            bail!(
                "{}: output limit exceeded: the render returned {} artifacts and {} diagnostics weighing {} bytes \
                 (contents, paths and messages, plus {ARTIFACT_WEIGHT} bytes each), more than the limit of {} bytes \
                 (raise it with --output-limit if this output is expected)",
                self.label(),
                artifacts.len(),
                diagnostics.len(),
                size,
                self.limits.output_bytes
            );
        }
        Ok(result)
    }

    /// Instantiates and runs one export in a fresh store: a trap poisons an
    /// instance, and a fresh store also gives each call its whole fuel and
    /// memory budget.
    fn call<T>(&self, what: &str, f: impl FnOnce(&mut Store<MemoryCap>) -> wasmtime::Result<T>) -> Result<T> {
        let mut store = Store::new(&self.engine, MemoryCap { max_bytes: self.limits.memory_bytes, hit: false });
        store.limiter(|cap| cap);
        store.set_fuel(self.limits.fuel).map_err(|e| anyhow!("{e}"))?;
        let outcome = f(&mut store);
        outcome.map_err(|e| self.explain(what, e, store.data()))
    }

    /// Turns a wasmtime error into one that says which limit or fault stopped the plugin.
    fn explain(&self, what: &str, error: wasmtime::Error, cap: &MemoryCap) -> anyhow::Error {
        let label = self.label();
        let limits = &self.limits;
        if cap.hit {
            return anyhow!(
                "{label}: {what} stopped: memory limit of {} MiB reached (raise it with --memory-limit)",
                limits.memory_bytes >> 20
            );
        }
        let why = match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => format!(
                "CPU budget exhausted: {} units of fuel burnt without finishing (an endless loop? raise it with --fuel)",
                limits.fuel
            ),
            Some(Trap::UnreachableCodeReached) => {
                "the plugin panicked or aborted (wasm `unreachable`)".to_owned()
            }
            Some(Trap::StackOverflow) => "stack overflow (unbounded recursion?)".to_owned(),
            Some(trap) => format!("trap: {trap}"),
            None => format!("{error:#}"),
        };
        anyhow!("{label}: {what} failed: {why}")
    }
}

/// What every artifact (and diagnostic) weighs beyond its bytes, so that
/// millions of empty files (inodes, and the host's own bookkeeping) or
/// messages also hit the output limit: the default 64 MiB allows about
/// 130 000 of them.
const ARTIFACT_WEIGHT: usize = 512;

/// What a diagnostic weighs against the output limit: its texts.
fn diagnostic_size(d: &Diagnostic) -> usize {
    ARTIFACT_WEIGHT + d.message.len() + d.service.as_ref().map_or(0, String::len) + d.option_name.as_ref().map_or(0, String::len)
}

/// What an artifact weighs against the output limit: the bytes the plugin
/// itself returned (an image's layers come from the store, not the plugin).
fn artifact_size(artifact: &Artifact) -> usize {
    let content = |c: &wit::latest::FileContent| match c {
        wit::latest::FileContent::Text(t) => t.len(),
        wit::latest::FileContent::Source(s) => s.len(),
    };
    ARTIFACT_WEIGHT + match artifact {
        Artifact::File(f) => f.path.len() + f.contents.len(),
        Artifact::Image(image) => {
            image.path.len()
                + image.files.iter().map(|f| f.path.len() + content(&f.content)).sum::<usize>()
                + image.store_paths.iter().map(String::len).sum::<usize>()
        }
        Artifact::VmRoot(root) => {
            root.path.len()
                + root.kernel.len()
                + root.modules.iter().map(String::len).sum::<usize>()
                + root.files.iter().map(|f| f.path.len() + content(&f.content)).sum::<usize>()
                + root.store_paths.iter().map(String::len).sum::<usize>()
        }
    }
}
