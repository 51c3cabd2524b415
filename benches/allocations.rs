//! Heap allocations per call for each variant of the micro-benchmark, counted by a global
//! allocator on the calling thread: `cargo bench --bench allocations`.
//!
//! Allocation counts explain much of the time difference between variants: a span's heap
//! blocks are freed by the batch processor's thread, and glibc then serializes both threads on
//! the allocator's arena lock.

use std::hint::black_box;

use redis_trace_harness::bench::{install, micro, Variant};
use redis_trace_harness::{allocations, CountingAllocator};

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
        let (count_before, bytes_before) = allocations();
        for _ in 0..CALLS {
            black_box(micro::call(variant, black_box("user-42"))).ok();
        }
        let (count_after, bytes_after) = allocations();
        println!(
            "{:<36} {:>12.1} {:>12.0}",
            variant.label(),
            (count_after - count_before) as f64 / CALLS as f64,
            (bytes_after - bytes_before) as f64 / CALLS as f64,
        );
    }
}
