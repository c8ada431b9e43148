//! The plugins' memory allocator (the kit's `arena` feature, on by
//! default): small blocks from an arena that never frees them, large ones
//! from the standard allocator.
//!
//! A plugin's instance lives for one call (the host instantiates a plugin
//! afresh for every `info()` and `render()`, then drops its whole memory),
//! and a render makes and frees a great many small blocks, each freed one
//! by one by dlmalloc: about a quarter of a big render's time in wasm. A
//! small block here is a pointer bump (the last one is freed or grown in
//! place); the rest are left to die with the instance. Blocks from 256
//! bytes — the output text growing, the big lists — still go to dlmalloc,
//! which reuses what they free, so a render's peak memory stays near what
//! it was (docs/benchmarks.md: compose and k8s 15% faster at 10,000
//! services; k8s at 20,000 within 128 MiB, from 120).
//!
//! A plugin with its own `#[global_allocator]` turns the feature off
//! (`default-features = false`).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use std::alloc::System;

const PAGE: usize = 65536;
/// Blocks of this size and more go to the standard allocator.
const LARGE: usize = 256;
/// Pages asked of the host at a time for small blocks.
const CHUNK_PAGES: usize = 16;

pub struct Arena {
    next: Cell<usize>,
    end: Cell<usize>,
}

// A plugin runs on one thread (wasm32-unknown-unknown has no threads).
unsafe impl Sync for Arena {}

impl Arena {
    pub const fn new() -> Arena {
        Arena { next: Cell::new(0), end: Cell::new(0) }
    }

    fn bump(&self, layout: Layout) -> *mut u8 {
        let align = layout.align() - 1;
        let start = (self.next.get() + align) & !align;
        if self.end.get() != 0 && start + layout.size() <= self.end.get() {
            self.next.set(start + layout.size());
            return start as *mut u8;
        }
        // A new chunk where the memory grows (dlmalloc grows it too: what
        // is left of the last chunk is abandoned).
        let previous = memory_grow(CHUNK_PAGES);
        if previous == usize::MAX {
            return core::ptr::null_mut();
        }
        let start = (previous * PAGE + align) & !align;
        self.next.set(start + layout.size());
        self.end.set((previous + CHUNK_PAGES) * PAGE);
        start as *mut u8
    }

    fn is_last(&self, ptr: *mut u8, size: usize) -> bool {
        ptr as usize + size == self.next.get()
    }
}

/// Grows the memory by `pages`: the memory's size in pages before, or
/// `usize::MAX` when the host refuses.
#[cfg(target_arch = "wasm32")]
fn memory_grow(pages: usize) -> usize {
    core::arch::wasm32::memory_grow(0, pages)
}

/// Natively (the tests), fresh page-aligned blocks stand for the memory
/// growing (kept for the test's life): the same arithmetic on their addresses.
#[cfg(not(target_arch = "wasm32"))]
fn memory_grow(pages: usize) -> usize {
    let block = unsafe { std::alloc::alloc(Layout::from_size_align(pages * PAGE, PAGE).unwrap()) };
    if block.is_null() { usize::MAX } else { block as usize / PAGE }
}

unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE {
            System.alloc(layout)
        } else {
            self.bump(layout)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() >= LARGE {
            System.dealloc(ptr, layout)
        } else if self.is_last(ptr, layout.size()) {
            // A temporary freed at once goes back.
            self.next.set(ptr as usize);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if old >= LARGE && new_size >= LARGE {
            return System.realloc(ptr, layout, new_size);
        }
        if old < LARGE && new_size < LARGE {
            // The last small block grows or shrinks where it is.
            if self.is_last(ptr, old) && ptr as usize + new_size <= self.end.get() {
                self.next.set(ptr as usize + new_size);
                return ptr;
            }
            if new_size <= old {
                return ptr;
            }
        }
        let new = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
        if !new.is_null() {
            core::ptr::copy_nonoverlapping(ptr, new, old.min(new_size));
            self.dealloc(ptr, layout);
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Alloc { size: usize, align_log2: u32 },
        Free(usize),
        Realloc(usize, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Sizes on both sides of LARGE, so blocks move between the arena
        // and the standard allocator.
        prop_oneof![
            (1usize..600, 0u32..5).prop_map(|(size, align_log2)| Op::Alloc { size, align_log2 }),
            any::<usize>().prop_map(Op::Free),
            (any::<usize>(), 1usize..600).prop_map(|(i, size)| Op::Realloc(i, size)),
        ]
    }

    proptest! {
        /// Every live block keeps its own bytes whatever is allocated,
        /// freed or grown around it: no two blocks overlap, a block grown
        /// or moved keeps its contents, and alignments hold.
        #[test]
        fn blocks_never_overlap_and_keep_their_contents(ops in proptest::collection::vec(op(), 1..300)) {
            let arena = Arena::new();
            let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
            let fill = |ptr: *mut u8, len: usize, byte: u8| unsafe { std::ptr::write_bytes(ptr, byte, len) };
            let intact = |ptr: *mut u8, len: usize, byte: u8| unsafe { std::slice::from_raw_parts(ptr, len).iter().all(|b| *b == byte) };
            for (n, op) in ops.into_iter().enumerate() {
                let byte = n as u8;
                match op {
                    Op::Alloc { size, align_log2 } => {
                        let layout = Layout::from_size_align(size, 1 << align_log2).unwrap();
                        let ptr = unsafe { arena.alloc(layout) };
                        prop_assert!(!ptr.is_null());
                        prop_assert_eq!(ptr as usize % layout.align(), 0);
                        fill(ptr, size, byte);
                        live.push((ptr, layout, byte));
                    }
                    Op::Free(i) if !live.is_empty() => {
                        let (ptr, layout, _) = live.swap_remove(i % live.len());
                        unsafe { arena.dealloc(ptr, layout) };
                    }
                    Op::Realloc(i, size) if !live.is_empty() => {
                        let i = i % live.len();
                        let (ptr, layout, old_byte) = live[i];
                        let new = unsafe { arena.realloc(ptr, layout, size) };
                        prop_assert!(!new.is_null());
                        prop_assert_eq!(new as usize % layout.align(), 0);
                        prop_assert!(intact(new, layout.size().min(size), old_byte), "realloc lost the contents");
                        fill(new, size, byte);
                        live[i] = (new, Layout::from_size_align(size, layout.align()).unwrap(), byte);
                    }
                    _ => {}
                }
                for &(ptr, layout, byte) in &live {
                    prop_assert!(intact(ptr, layout.size(), byte), "a live block was overwritten");
                }
            }
        }
    }
}
