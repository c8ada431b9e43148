//! nix2dream: render a Nix-defined deployment for any service manager through
//! sandboxed WebAssembly plugins.
//!
//! Layers: [`evaluate`] (Nix → JSON) → [`deployment`] (load + validate) →
//! [`plugin`] (sandboxed render) → [`capability`] (ignored options) →
//! [`output`] (atomic writes under `--out`).

pub mod addresses;
pub mod bin_directories;
pub mod capability;
pub mod deployment;
pub mod evaluate;
pub mod exit;
pub mod image;
pub mod image_requests;
pub mod input;
pub mod messages;
pub mod interrupt;
pub mod output;
pub mod plugin;
pub mod progress;
pub mod render;
pub mod sdk;
pub mod settings;
pub mod text;
pub mod vm_requests;
pub mod vm_root;
