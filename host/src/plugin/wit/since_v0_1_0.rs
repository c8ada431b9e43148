//! Plugins built against `nix2dream:manager@0.1.0`: their bindings, the
//! deployment in their types, and their results upgraded to the latest types.

use super::latest;
use crate::deployment as d;

wasmtime::component::bindgen!({
    path: "../wit/v0.1.0",
    world: "manager",
});

pub use exports::nix2dream::manager::plugin as api;

super::convert::services_before_v0_4!();

super::convert::deployment_before_v0_3!();

super::convert::upgrade_records!();

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
