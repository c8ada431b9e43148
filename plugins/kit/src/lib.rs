//! The plugin kit: everything nix2dream manager plugins share, in one place.
//!
//! A plugin implements [`Manager`] and calls [`export_manager!`]:
//!
//! ```ignore
//! struct Procfile;
//! impl nix2dream_plugin_kit::Manager for Procfile { ... }
//! nix2dream_plugin_kit::export_manager!(Procfile);
//! ```

#[cfg(any(all(target_arch = "wasm32", feature = "arena"), test))]
mod arena;
#[cfg(all(target_arch = "wasm32", feature = "arena"))]
#[global_allocator]
static ALLOCATOR: arena::Arena = arena::Arena::new();

pub mod conformance;
pub mod diagnostics;
pub mod image;
pub mod programs;
pub mod settings;
pub mod shell;
pub mod systemd;
pub mod testing;
pub mod yaml;

// The generated bindings and the export macro name the kit by its crate
// name (so that a plugin needs no wit-bindgen dependency of its own); inside
// the kit that name must resolve too.
extern crate self as nix2dream_plugin_kit;

/// wit-bindgen's runtime, for the code `export_manager!` expands to in a
/// plugin crate.
#[doc(hidden)]
pub use wit_bindgen::rt as __rt;

#[doc(hidden)]
pub mod bindings {
    // `wit/manager.wit` is a copy of the repository's `wit/v0.4.0/manager.wit`
    // (the source of truth), inside the crate so that the packaged kit builds;
    // tests/tests/sdk.rs holds the two identical.
    wit_bindgen::generate!({
        path: "wit",
        world: "manager",
        runtime_path: "nix2dream_plugin_kit::__rt",
        pub_export_macro: true,
        export_macro_name: "__export_manager_world",
        default_bindings_module: "nix2dream_plugin_kit::bindings",
    });
}

/// The WIT types, under short names.
pub mod types {
    pub use crate::bindings::exports::nix2dream::manager::plugin::*;
}

pub use types::{
    Addressing, Artifact, BinDirectory, ConfigFile, Dependency, DependencyCondition, Deployment, Diagnostic, EnvVar, HttpProbe,
    FileContent, Healthcheck, PluginInfo, Port, Probe, Protocol, Rendered, Resources,
    RestartPolicy, Secret, SecretUse, Service, Severity, Volume, VolumeSource,
};

pub use nix2dream_core_options::{is_core_option, CORE_OPTIONS};

/// A plugin's `supported-options`, from groups of option names (e.g. what an
/// image carries plus what the orchestrator adds).
pub fn supported_options(groups: &[&[&str]]) -> Vec<String> {
    groups.iter().flat_map(|group| group.iter().map(|o| (*o).to_owned())).collect()
}

/// What a manager plugin implements. Both functions must be pure.
pub trait Manager {
    fn info() -> PluginInfo;
    fn render(deployment: Deployment) -> Result<Rendered, Vec<Diagnostic>>;
}

/// Exports a [`Manager`] implementation as the component's `plugin` interface.
#[macro_export]
macro_rules! export_manager {
    ($ty:ident) => {
        #[doc(hidden)]
        pub struct __Nix2dreamExport;
        impl $crate::types::Guest for __Nix2dreamExport {
            fn info() -> $crate::PluginInfo {
                $crate::report_panics();
                <$ty as $crate::Manager>::info()
            }
            fn render(
                deployment: $crate::Deployment,
            ) -> ::core::result::Result<$crate::Rendered, ::std::vec::Vec<$crate::Diagnostic>> {
                $crate::report_panics();
                <$ty as $crate::Manager>::render(deployment)
            }
        }
        // Only a wasm build exports the component's functions: native builds
        // (unit tests) cannot link symbol names such as `nix2dream:manager/plugin@0.1.0#info`.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::__export_manager_world!(__Nix2dreamExport with_types_in $crate::bindings);
    };
}

/// Leaves `message` for the user: the host shows it (escaped, bounded,
/// naming the plugin) if the call fails. Outside a wasm build (unit tests)
/// it goes to stderr.
pub fn report(message: &str) {
    #[cfg(target_arch = "wasm32")]
    bindings::nix2dream::manager::host::report(message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{message}");
}

/// Makes a panic's message reach the user through [`report`] before the
/// plugin aborts (a trap, which says nothing by itself). `export_manager!`
/// calls it on entry; once is enough.
pub fn report_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(target_arch = "wasm32")]
        std::panic::set_hook(Box::new(|info| report(&info.to_string())));
    });
}

/// The deployment volumes the services mount (`volumes.<v>.shared`),
/// sorted, each once.
pub fn shared_volume_names(d: &Deployment) -> Vec<&str> {
    let mut names: Vec<&str> = d
        .services
        .iter()
        .flat_map(|s| &s.volumes)
        .filter_map(|v| match &v.source {
            VolumeSource::Shared(name) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The deployment's services and secrets by name, found once per render:
/// a search of the services per dependency (or of the secrets per use)
/// inside a loop over the services is quadratic (10,000 services, each
/// depending on the next: 50 million comparisons).
pub struct Index<'a> {
    pub deployment: &'a Deployment,
    services: std::collections::HashMap<&'a str, &'a Service>,
    secrets: std::collections::HashMap<&'a str, &'a Secret>,
}

impl<'a> Index<'a> {
    pub fn new(deployment: &'a Deployment) -> Index<'a> {
        // The first of a name wins, as a search from the start would find it.
        let mut services = std::collections::HashMap::with_capacity(deployment.services.len());
        for s in &deployment.services {
            services.entry(s.name.as_str()).or_insert(s);
        }
        let mut secrets = std::collections::HashMap::with_capacity(deployment.secrets.len());
        for s in &deployment.secrets {
            secrets.entry(s.name.as_str()).or_insert(s);
        }
        Index { deployment, services, secrets }
    }

    /// The service named `name`.
    pub fn service(&self, name: &str) -> Option<&'a Service> {
        self.services.get(name).copied()
    }

    /// The secret named `name`.
    pub fn secret(&self, name: &str) -> Option<&'a Secret> {
        self.secrets.get(name).copied()
    }
}

/// A file artifact.
pub fn file(path: impl Into<String>, contents: impl Into<Vec<u8>>, executable: bool) -> Artifact {
    Artifact::File(types::File { path: path.into(), contents: contents.into(), executable })
}
