//! Plugins built against `nix2dream:manager@0.2.0` (adds image requests).
//! Its types are the host's latest types.

use crate::deployment as d;

wasmtime::component::bindgen!({
    path: "../wit/v0.2.0",
    world: "manager",
});

pub use exports::nix2dream::manager::plugin as api;

super::convert::deployment_conversion!();
