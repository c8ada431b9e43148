//! Loading a manager plugin and calling it inside its sandbox: no imports
//! but `host.report`, a fresh store per call, memory, fuel and output bounded.

mod checked_entries;
pub mod engine;
mod info;
pub mod limits;
pub mod registry;
pub mod report;
pub mod wit;

use crate::deployment::Deployment;
use anyhow::{anyhow, bail, Context, Result};
use limits::{Limits, MemoryCap};
use report::StoreData;
use std::path::{Path, PathBuf};
use wasmtime::component::{types::ComponentItem, Component, Linker};
use wasmtime::{Engine, Store, Trap};
use wit::{since_v0_1_0 as v0_1, since_v0_2_0 as v0_2, since_v0_3_0 as v0_3, since_v0_4_0 as v0_4};
use crate::bin_directories::BinDirectories;

pub use engine::Origin;
pub use wit::latest::{Addressing, Artifact, Diagnostic, ImageRequest, PluginInfo, Rendered, Severity, VmRootRequest};

/// Instantiation, prepared once, for the contract version the plugin targets.
enum Prepared {
    V0_1(v0_1::ManagerPre<StoreData>),
    V0_2(v0_2::ManagerPre<StoreData>),
    V0_3(v0_3::ManagerPre<StoreData>),
    V0_4(v0_4::ManagerPre<StoreData>),
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
             nix2dream plugin kit and turn it into a component (`nix2dream plugins build` does both; for a \
             module built otherwise, `nix2dream plugins componentize`)",
            file.display()
        )
    } else {
        bail!("{} is not a WebAssembly component (it does not start with the wasm magic bytes)", file.display())
    }
}

/// The names a component imports, read from its top level without
/// compiling anything (compiling a large component costs seconds and
/// hundreds of MiB: a plugin that is refused anyway must not cost that).
fn imports_of(bytes: &[u8]) -> Result<Vec<String>> {
    let mut imports = Vec::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| anyhow!("{e}"))? {
            wasmparser::Payload::Version { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    imports.push(import.map_err(|e| anyhow!("{e}"))?.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(imports)
}

/// The one import a plugin may have: `host.report` of contract 0.4.x.
fn is_allowed_import(name: &str) -> bool {
    name.strip_prefix("nix2dream:manager/host@0.4.").is_some_and(|patch| !patch.is_empty() && patch.bytes().all(|b| b.is_ascii_digit()))
}

/// How to build without WASI, per language (docs/writing-a-plugin.md).
pub(crate) const WITHOUT_WASI: &str = " Build it without WASI:\n  \
     Rust: for wasm32-unknown-unknown (not wasm32-wasip1/p2) with the plugin kit: `nix2dream plugins build`\n  \
     Python: componentize-py ... componentize APP --stub-wasi (WASI calls become traps)\n  \
     C: clang --target=wasm32-wasi -mexec-model=reactor -Wl,--no-entry, and no stdio, files, clock or \
     randomness (one printf brings WASI in), then `nix2dream plugins componentize`";

/// Refuses a component that imports anything but `host.report`.
fn refuse_imports(imports: &[String]) -> Result<()> {
    let refused: Vec<&String> = imports.iter().filter(|i| !is_allowed_import(i)).collect();
    if !refused.is_empty() {
        let wasi = refused.iter().any(|i| i.starts_with("wasi:"));
        bail!(
            "it imports {} — nix2dream gives plugins no imports but `nix2dream:manager/host` (no WASI, no other \
             host function).{}",
            refused.iter().map(|i| format!("`{}`", crate::text::printable(i))).collect::<Vec<_>>().join(", "),
            if wasi { WITHOUT_WASI } else { "" }
        );
    }
    Ok(())
}

/// The contract version a component exports, refusing any import.
fn contract_version(engine: &Engine, component: &Component) -> Result<String> {
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(engine).map(|(name, _)| name.to_owned()).collect();
    refuse_imports(&imports)?;
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

/// Reads a plugin file, refusing one bigger than `limit` bytes before
/// reading (or compiling) it all.
fn read_bounded(file: &Path, limit: usize) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(file).with_context(|| format!("cannot read plugin {}", file.display()))?;
    let mut bytes = Vec::new();
    f.take(limit as u64 + 1).read_to_end(&mut bytes).with_context(|| format!("cannot read plugin {}", file.display()))?;
    if bytes.len() > limit {
        bail!(
            "plugin {} is bigger than the plugin size limit of {} MiB: compiling a component takes time and memory in \
             proportion to its size (raise the limit with --plugin-size-limit if you trust it)",
            file.display(),
            limit >> 20
        );
    }
    Ok(bytes)
}

impl Plugin {
    pub fn load(file: &Path, limits: Limits, cache: Option<&engine::Cache>) -> Result<Plugin> {
        let bytes = read_bounded(file, limits.plugin_bytes)?;
        check_is_component(file, &bytes)?;
        let engine = engine::new_engine()?;
        let (component, origin) = match cache.and_then(|c| c.load(&engine, &bytes)) {
            // Stored once these same bytes were accepted.
            Some(component) => (component, Origin::Cached),
            None => {
                // Read before compiling: a refused plugin must not cost a compile.
                let imports = imports_of(&bytes).with_context(|| format!("plugin {} is not a valid component", file.display()))?;
                refuse_imports(&imports).with_context(|| format!("plugin {} refused", file.display()))?;
                let component = engine::compile(&engine, &bytes)
                    .with_context(|| format!("plugin {} is not a valid component", file.display()))?;
                (component, Origin::Compiled)
            }
        };
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
        let mut linker: Linker<StoreData> = Linker::new(&engine);
        // The one function a plugin may import (0.4.0): older contracts import nothing.
        v0_4::Manager::add_to_linker::<StoreData, wasmtime::component::HasSelf<StoreData>>(&mut linker, |data| data)
            .map_err(|e| anyhow!("defining host.report: {e}"))?;
        let prepared = linker
            .instantiate_pre(&component)
            .and_then(|pre| match contract {
                wit::Contract::V0_1 => v0_1::ManagerPre::new(pre).map(Prepared::V0_1),
                wit::Contract::V0_2 => v0_2::ManagerPre::new(pre).map(Prepared::V0_2),
                wit::Contract::V0_3 => v0_3::ManagerPre::new(pre).map(Prepared::V0_3),
                wit::Contract::V0_4 => v0_4::ManagerPre::new(pre).map(Prepared::V0_4),
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
                addressing: Addressing::Loopback,
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
            Prepared::V0_3(pre) => v0_3::upgrade_info(plugin.call("info()", |s| {
                pre.instantiate(&mut *s)?.nix2dream_manager_plugin().call_info(s)
            })?),
            Prepared::V0_4(pre) => {
                plugin.call("info()", |s| pre.instantiate(&mut *s)?.nix2dream_manager_plugin().call_info(s))?
            }
        };
        info::check(&plugin.info).map_err(|e| anyhow!("plugin {} is refused: {e}", file.display()))?;
        // A cached plugin had its schema compiled when it was stored: the
        // same code answers `info()` the same (a plugin has no source of
        // randomness), and compiling the schema is a fifth of a warm load.
        if origin == Origin::Compiled {
            info::check_settings_schema(&plugin.info).map_err(|e| anyhow!("plugin {} is refused: {e}", file.display()))?;
            // Only a plugin that was accepted is worth keeping compiled.
            if let Some(cache) = cache {
                cache.store(&plugin.engine, &bytes, &component);
            }
        }
        Ok(plugin)
    }

    /// Whether `render` gives it the services' `bin/` listings (0.3.0 and later).
    pub fn takes_bin_directories(&self) -> bool {
        matches!(self.prepared, Prepared::V0_3(_) | Prepared::V0_4(_))
    }

    /// `plugin name@version`, how every message names the plugin.
    pub fn label(&self) -> String {
        format!("plugin {}", self.id())
    }

    /// `name@version`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.info.name, self.info.version)
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
                    .map(v0_3::upgrade_rendered)
                    .map_err(|ds| ds.into_iter().map(v0_3::upgrade_diagnostic).collect())
            }
            Prepared::V0_4(pre) => {
                let input = v0_4::deployment_for(deployment, name, bins);
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
    fn call<T>(&self, what: &str, f: impl FnOnce(&mut Store<StoreData>) -> wasmtime::Result<T>) -> Result<T> {
        let data = StoreData { cap: MemoryCap { max_bytes: self.limits.memory_bytes, hit: None }, reports: Default::default() };
        let mut store = Store::new(&self.engine, data);
        store.limiter(|data| &mut data.cap);
        store.set_fuel(self.limits.fuel).map_err(|e| anyhow!("{e}"))?;
        // What a plugin returns is copied out of it under wasmtime's own
        // bound ("hostcall fuel", 128 MiB by default): made the output limit,
        // so that limit is the one that holds, and the one errors name.
        store.set_hostcall_fuel(self.limits.output_bytes.saturating_add(HOSTCALL_SLACK));
        let outcome = f(&mut store);
        outcome.map_err(|e| self.explain(what, e, store.data()))
    }

    /// Turns a wasmtime error into one that says which limit or fault stopped the plugin.
    fn explain(&self, what: &str, error: wasmtime::Error, data: &StoreData) -> anyhow::Error {
        let error = self.explain_fault(what, error, &data.cap);
        match data.reports.shown() {
            Some(reported) => anyhow!("{error}\nthe plugin reported: {reported}"),
            None => error,
        }
    }

    /// Which limit or fault stopped the plugin.
    fn explain_fault(&self, what: &str, error: wasmtime::Error, cap: &MemoryCap) -> anyhow::Error {
        let label = self.label();
        let limits = &self.limits;
        match cap.hit {
            Some(limits::Hit::Memory) => {
                return anyhow!(
                    "{label}: {what} stopped: memory limit of {} MiB reached (raise it with --memory-limit)",
                    limits.memory_bytes >> 20
                )
            }
            Some(limits::Hit::Table) => {
                return anyhow!(
                    "{label}: {what} stopped: table limit of {} elements reached (a fixed bound: plugins have no use for bigger tables)",
                    limits::MAX_TABLE_ELEMENTS
                )
            }
            None => {}
        }
        if format!("{error:#}").contains("fuel allocated for hostcalls has been exhausted") {
            return anyhow!(
                "{label}: {what} stopped: output limit exceeded: the plugin returned more than the limit of {} bytes \
                 (raise it with --output-limit if this output is expected)",
                limits.output_bytes
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
            // A plugin compiled from Rust (or C) keeps its stack in its linear
            // memory, below its data: overflowing it shows up as an access
            // out of bounds, deep in a recursion.
            Some(Trap::MemoryOutOfBounds) if recursion_depth(&error) >= engine::DEEP_RECURSION => format!(
                "stack overflow: the plugin's own stack (kept in its linear memory) overflowed over {} calls deep \
                 (unbounded recursion?), which wasm reports as an out-of-bounds memory access",
                engine::DEEP_RECURSION
            ),
            Some(trap) => format!("trap: {trap}"),
            None => format!("{error:#}"),
        };
        anyhow!("{label}: {what} failed: {why}")
    }
}

/// Hostcall fuel beyond the output limit: the bytes of records and lists
/// themselves, which the output limit weighs differently.
const HOSTCALL_SLACK: usize = 16 << 20;

/// How many frames the backtrace of a trap holds (0 when none was captured).
fn recursion_depth(error: &wasmtime::Error) -> usize {
    error.downcast_ref::<wasmtime::WasmBacktrace>().map_or(0, |bt| bt.frames().len())
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

#[cfg(test)]
mod import_rule_tests {
    use super::*;

    #[test]
    fn only_host_report_of_contract_0_4_x_may_be_imported() {
        for allowed in ["nix2dream:manager/host@0.4.0", "nix2dream:manager/host@0.4.12"] {
            assert!(is_allowed_import(allowed), "{allowed}");
        }
        for refused in [
            "nix2dream:manager/host@0.3.0",
            "nix2dream:manager/host@0.5.0",
            "nix2dream:manager/host@0.4.",
            "nix2dream:manager/host@0.4.0-rc1",
            "nix2dream:manager/host@0.4.0.1",
            "nix2dream:manager/host",
            "nix2dream:manager/plugin@0.4.0",
            "nix2dream:manager/types@0.4.0",
            "wasi:cli/environment@0.2.0",
        ] {
            assert!(!is_allowed_import(refused), "{refused}");
        }
    }

    #[test]
    fn a_wasi_import_is_refused_with_how_to_build_without_it_per_language() {
        let e = refuse_imports(&["wasi:cli/stdout@0.2.0".into()]).unwrap_err().to_string();
        assert!(e.contains("`wasi:cli/stdout@0.2.0`") && e.contains("Rust:") && e.contains("--stub-wasi") && e.contains("-mexec-model=reactor"), "{e}");
        let e = refuse_imports(&["acme:db/query".into()]).unwrap_err().to_string();
        assert!(!e.contains("--stub-wasi"), "{e}");
        assert!(refuse_imports(&["nix2dream:manager/host@0.4.0".into()]).is_ok());
    }
}
