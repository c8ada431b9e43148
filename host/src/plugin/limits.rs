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
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_bytes: 256 << 20, fuel: 100_000_000_000, output_bytes: 64 << 20 }
    }
}

/// A memory limiter that remembers it said no, so the error can say
/// "memory limit" instead of wasmtime's bare trap.
pub struct MemoryCap {
    pub max_bytes: usize,
    pub hit: bool,
}

/// Tables hold function references; a plugin has no reason for many.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = desired <= self.max_bytes;
        self.hit |= !allowed;
        Ok(allowed)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = desired <= MAX_TABLE_ELEMENTS;
        self.hit |= !allowed;
        Ok(allowed)
    }
}
