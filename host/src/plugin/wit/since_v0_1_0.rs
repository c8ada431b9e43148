//! Plugins built against `nix2dream:manager@0.1.0`: their bindings, the
//! deployment in their types, and their results upgraded to the latest types.

use super::latest;
use crate::deployment as d;

wasmtime::component::bindgen!({
    path: "../wit/v0.1.0",
    world: "manager",
});

pub use exports::nix2dream::manager::plugin as api;

super::convert::service_conversion!();

/// What the plugin `plugin_name` receives.
pub fn deployment_for(dep: &d::Deployment, plugin_name: &str) -> api::Deployment {
    api::Deployment {
        name: dep.name.clone(),
        settings_json: super::convert::settings_json(&dep.settings, plugin_name),
        services: services_for(dep, plugin_name),
    }
}

super::convert::result_upgrades!();

pub fn upgrade_rendered(r: api::Rendered) -> latest::Rendered {
    latest::Rendered {
        artifacts: r
            .artifacts
            .into_iter()
            .map(|a| match a {
                api::Artifact::File(f) => {
                    latest::Artifact::File(latest::File { path: f.path, contents: f.contents, executable: f.executable })
                }
            })
            .collect(),
        diagnostics: r.diagnostics.into_iter().map(upgrade_diagnostic).collect(),
    }
}
