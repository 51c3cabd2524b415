//! Micro-benchmark: the cost of instrumentation around the same trivial async body, no I/O.
//! All variants in one run: `cargo bench --bench overhead`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use redis_trace_harness::bench::{install, micro, Variant};

fn overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("overhead");
    for variant in Variant::ALL {
        let installed = install(variant);
        group.bench_function(variant.label(), |b| {
            b.iter(|| black_box(micro::call(variant, black_box("user-42"))));
        });
        drop(installed);
    }
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
