//! The wasmtime engine and the on-disk cache of compiled components.
//!
//! Cache files are keyed by the SHA-256 of the component bytes and of the
//! engine's compatibility hash, written atomically, and recompiled on any
//! error: `Component::deserialize` trusts its input, so only files this host
//! wrote itself are ever given to it.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

pub fn new_engine() -> Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.consume_fuel(true);
    Engine::new(&config).map_err(|e| anyhow::anyhow!("{e}")).context("starting the wasmtime engine")
}

/// Feeds `Hash` output into SHA-256, so the engine's compatibility hash is
/// stable across runs (std's `DefaultHasher` is seeded per build).
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        unreachable!("only finalized as a digest")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn cache_key(engine: &Engine, bytes: &[u8]) -> String {
    let mut hasher = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.update(env!("CARGO_PKG_VERSION").as_bytes());
    let engine_hash = hasher.0.finalize();
    format!("{}-{}", hex(&Sha256::digest(bytes)), &hex(&engine_hash)[..16])
}

/// Where compiled components are kept: `NIX2DREAM_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/nix2dream`, else `~/.cache/nix2dream`; None disables it.
pub fn default_cache_dir() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("NIX2DREAM_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("nix2dream")))
        .or_else(|| env("HOME").map(|d| d.join(".cache/nix2dream")))
}

/// Whether the last `compile` call came from the cache (for benchmarks and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Compiled,
    Cached,
}

/// Compiles `bytes` (already validated as a component), or loads the result of
/// an earlier compilation from `cache_dir`.
pub fn compile(engine: &Engine, bytes: &[u8], cache_dir: Option<&Path>) -> Result<(Component, Origin)> {
    let cached = cache_dir.map(|dir| dir.join(format!("{}.cwasm", cache_key(engine, bytes))));
    if let Some(file) = &cached {
        if file.is_file() {
            // SAFETY: the file is named after the hash of the component and of
            // the engine configuration and was written by `serialize` below.
            if let Ok(component) = unsafe { Component::deserialize_file(engine, file) } {
                return Ok((component, Origin::Cached));
            }
        }
    }
    let component = Component::new(engine, bytes).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    if let Some(file) = &cached {
        // A cache that cannot be written only costs time: ignore failures.
        let _ = store_in_cache(&component, file);
    }
    Ok((component, Origin::Compiled))
}

fn store_in_cache(component: &Component, file: &Path) -> Result<()> {
    let dir = file.parent().context("cache file has a parent")?;
    std::fs::create_dir_all(dir)?;
    let bytes = component.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
    let tmp = dir.join(format!(".{}.{}.tmp", file.file_name().unwrap().to_string_lossy(), std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, file)?;
    Ok(())
}
