//! The bounds put on every plugin call: memory, CPU (fuel) and output size.

use wasmtime::ResourceLimiter;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest linear memory a plugin may grow to, in bytes.
    pub memory_bytes: usize,
    /// Fuel (roughly, wasm instructions) one call may burn.
    pub fuel: u64,
    /// Largest total size of the artifacts one render may return, in bytes.
    pub output_bytes: usize,
    /// Largest plugin file that is compiled, in bytes.
    pub plugin_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_bytes: 256 << 20, fuel: 100_000_000_000, output_bytes: 64 << 20, plugin_bytes: 8 << 20 }
    }
}

/// Which bound a plugin ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    Memory,
    Table,
}

/// A memory limiter that remembers which limit it refused, so the error can
/// name it instead of wasmtime's bare trap.
pub struct MemoryCap {
    pub max_bytes: usize,
    pub hit: Option<Hit>,
}

/// Tables hold function references; a plugin has no reason for many.
pub const MAX_TABLE_ELEMENTS: usize = 100_000;

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = desired <= self.max_bytes;
        if !allowed {
            self.hit = Some(Hit::Memory);
        }
        Ok(allowed)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = desired <= MAX_TABLE_ELEMENTS;
        if !allowed {
            self.hit = Some(Hit::Table);
        }
        Ok(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::{Hit, MemoryCap};
    use wasmtime::{Config, Engine, Instance, Module, Store};

    fn hit_by(wat: &str) -> Option<Hit> {
        let engine = Engine::new(&Config::new()).unwrap();
        let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
        let mut store = Store::new(&engine, MemoryCap { max_bytes: 16 << 20, hit: None });
        store.limiter(|cap| cap);
        assert!(Instance::new(&mut store, &module, &[]).is_err(), "{wat} was instantiated");
        store.data().hit
    }

    #[test]
    fn the_limit_that_was_hit_is_recorded() {
        // A 10M-element table is stopped by the table bound, not by memory.
        assert_eq!(hit_by("(module (table 10000000 funcref))"), Some(Hit::Table));
        assert_eq!(hit_by("(module (memory 1024))"), Some(Hit::Memory));
    }
}
