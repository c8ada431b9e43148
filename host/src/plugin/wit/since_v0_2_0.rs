//! Plugins built against `nix2dream:manager@0.2.0` (adds image requests):
//! their bindings, the deployment in their types, and their results
//! upgraded to the latest types (the same records, other Rust types).

use super::latest;
use crate::deployment as d;

wasmtime::component::bindgen!({
    path: "../wit/v0.2.0",
    world: "manager",
});

pub use exports::nix2dream::manager::plugin as api;

super::convert::services_before_v0_4!();

super::convert::deployment_before_v0_3!();

super::convert::upgrade_records!();

super::convert::upgrade_files_and_images!();
