//! Heap allocations per call for each variant of the micro-benchmark, counted by a global
//! allocator on the calling thread: `cargo bench --bench allocations`.
//!
//! Allocation counts explain much of the time difference between variants: a span's heap
//! blocks are freed by the batch processor's thread, and glibc then serializes both threads on
//! the allocator's arena lock.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use support::{install, micro, Variant};

struct CountingAllocator;

thread_local! {
    /// (allocations, bytes) made by this thread.
    static ALLOCATED: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn count(size: usize) {
    // `try_with`: the thread-local may already be gone while a thread exits.
    let _ = ALLOCATED.try_with(|cell| {
        let (count, bytes) = cell.get();
        cell.set((count + 1, bytes + size as u64));
    });
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const CALLS: u64 = 10_000;

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return; // `cargo test --benches` lists benchmarks; there are none to list here.
    }
    println!("heap allocations per call on the calling thread (reallocations count as one)");
    println!("{:<36} {:>12} {:>12}", "variant", "allocations", "bytes");
    for variant in Variant::ALL {
        let _installed = install(variant);
        for _ in 0..1_000 {
            black_box(micro::call(variant, black_box("user-42"))).ok();
        }
        let (count_before, bytes_before) = ALLOCATED.with(Cell::get);
        for _ in 0..CALLS {
            black_box(micro::call(variant, black_box("user-42"))).ok();
        }
        let (count_after, bytes_after) = ALLOCATED.with(Cell::get);
        println!(
            "{:<36} {:>12.1} {:>12.0}",
            variant.label(),
            (count_after - count_before) as f64 / CALLS as f64,
            (bytes_after - bytes_before) as f64 / CALLS as f64,
        );
    }
}
