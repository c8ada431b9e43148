//! Plugins built against `nix2dream:manager@0.3.0` (adds `bin-directories`
//! to the deployment): their bindings, the deployment in their types, and
//! their results upgraded to the latest types.

use super::latest;
use crate::bin_directories::BinDirectories;
use crate::deployment as d;

wasmtime::component::bindgen!({
    path: "../wit/v0.3.0",
    world: "manager",
});

pub use exports::nix2dream::manager::plugin as api;

super::convert::services_before_v0_4!();

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

super::convert::upgrade_records!();

super::convert::upgrade_files_and_images!();
