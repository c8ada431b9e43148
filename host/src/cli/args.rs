//! The flags shared by several commands: where nixpkgs is, how plugins are
//! loaded and bounded, how results are printed.

use anyhow::Result;
use clap::{Args, ValueEnum};
use nix2dream::image_requests;
use nix2dream::plugin::{engine, limits::Limits, registry, Plugin};
use nix2dream::text::printable;
use std::path::PathBuf;

#[derive(Args)]
pub struct NixArgs {
    /// nixpkgs (at least its lib/) to evaluate with; else NIX2DREAM_NIXPKGS, else <nixpkgs> on NIX_PATH.
    #[arg(long, value_name = "PATH")]
    pub nixpkgs: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Sentences on stderr, for people.
    Text,
    /// One JSON document on stdout (docs/cli-json.md), for programs.
    Json,
}

/// `--format json`, or `--json` for short.
#[derive(Args)]
pub struct FormatArgs {
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Short for --format json.
    #[arg(long, conflicts_with = "format")]
    json: bool,
}

impl FormatArgs {
    pub fn json(&self) -> bool {
        self.json || self.format == Format::Json
    }
}

/// What loading a plugin and asking its `info()` takes (every command
/// that loads plugins).
#[derive(Args)]
pub struct LoadArgs {
    /// Memory a plugin may use, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().memory_bytes >> 20)]
    memory_limit: usize,
    /// CPU budget of one plugin call, in wasmtime fuel units (about one per instruction).
    #[arg(long, value_name = "UNITS", default_value_t = Limits::default().fuel)]
    fuel: u64,
    /// Largest plugin file that is compiled, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().plugin_bytes >> 20)]
    plugin_size_limit: usize,
    /// Do not read or write the cache (compiled plugins, digests of image layers).
    #[arg(long)]
    no_cache: bool,
}

/// What a render adds: bounds on what it produces (only `render` takes them,
/// so `plugins list` and `inspect` do not accept flags that would do nothing).
#[derive(Args)]
pub struct LimitArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Largest total size of what one plugin may render, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().output_bytes >> 20)]
    output_limit: usize,
    /// Largest total size of the image archives one render may build, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = image_requests::DEFAULT_IMAGE_LIMIT_MIB)]
    image_limit: u64,
}

impl LimitArgs {
    pub fn image_limit_bytes(&self) -> u64 {
        self.image_limit << 20
    }

    pub fn load(&self, spec: &str, cache: Option<&engine::Cache>) -> Result<Plugin> {
        self.load.load_with(spec, cache, self.output_limit << 20)
    }
}

impl LoadArgs {
    fn limits(&self, output_bytes: usize) -> Limits {
        Limits {
            memory_bytes: self.memory_limit << 20,
            fuel: self.fuel,
            output_bytes,
            plugin_bytes: self.plugin_size_limit << 20,
        }
    }

    /// The compiled-plugin cache, unless disabled or unsafe (then said once).
    pub fn cache(&self) -> Option<engine::Cache> {
        if self.no_cache {
            return None;
        }
        engine::Cache::open_default().unwrap_or_else(|e| {
            eprintln!("warning: not using the compiled-plugin cache: {}", printable(&format!("{e:#}")));
            None
        })
    }

    /// Loads a plugin for `plugins list`/`inspect` (no render: the default output limit).
    pub fn load(&self, spec: &str, cache: Option<&engine::Cache>) -> Result<Plugin> {
        self.load_with(spec, cache, Limits::default().output_bytes)
    }

    /// Loads a plugin; a plugin found by name that hides another of that
    /// name is warned about (on stderr, whatever the format: it is about the
    /// machine, not the render).
    fn load_with(&self, spec: &str, cache: Option<&engine::Cache>, output_bytes: usize) -> Result<Plugin> {
        let resolved = registry::resolve(spec)?;
        for hidden in &resolved.shadowed {
            eprintln!(
                "warning: plugin {spec:?} is {} ({}), which shadows {} ({}): pass a path to choose one",
                resolved.file.display(),
                if hidden.origin == "bundled" { "from NIX2DREAM_PLUGIN_PATH" } else { "first on NIX2DREAM_PLUGIN_PATH" },
                hidden.file.display(),
                hidden.origin
            );
        }
        Plugin::load(&resolved.file, self.limits(output_bytes), cache)
    }
}
