//! Plugins built against `nix2dream:manager@0.4.0` (adds the `vm-root`
//! artifact). Its types are the host's latest types.

use crate::bin_directories::BinDirectories;
use crate::deployment as d;

wasmtime::component::bindgen!({
    path: "../wit/v0.4.0",
    world: "manager",
});

pub use exports::nix2dream::manager::plugin as api;

super::convert::service_conversion!();

/// What the plugin `plugin_name` receives.
pub fn deployment_for(dep: &d::Deployment, plugin_name: &str, bins: &BinDirectories) -> api::Deployment {
    api::Deployment {
        name: dep.name.clone(),
        settings_json: super::convert::settings_json(&dep.settings, plugin_name),
        services: services_for(dep, plugin_name),
        bin_directories: bins
            .iter()
            .map(|(package, programs)| api::BinDirectory { package: package.clone(), programs: programs.clone() })
            .collect(),
    }
}
