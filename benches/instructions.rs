//! Instructions per call for each variant of the micro-benchmark, counted by valgrind's
//! callgrind: `cargo bench --bench instructions` (`INSTRUCTIONS_VARIANTS=full,hand` for a
//! subset).
//!
//! Why besides the timed benchmarks: on a shared 2-core machine a timed run moves by tens of
//! percent, while an instruction count is the same from run to run whatever else the machine
//! does. It counts every thread of the process, so the batch processor's work on each span
//! (export and freeing) is included. It does not see cache misses or lock waits; the timed
//! benchmarks do.
//!
//! Each variant runs twice in its own process, with `SHORT` and `LONG` calls after the same
//! warm-up; the difference divided by `LONG - SHORT` is the per-call figure, without the
//! set-up and shutdown.

use redis_trace_harness::bench::{callgrind_instructions, install, micro, Variant};
use std::hint::black_box;

/// Calls in the short and the long run: multiples of the batch processor's export batch (512),
/// so both runs export whole batches.
const SHORT: u64 = 2_048;
const LONG: u64 = 12_288;
const WARM_UP: u64 = 1_024;
/// Set in a child process: `{variant index} {calls}`.
const CHILD: &str = "REDIS_TRACE_INSTRUCTIONS_CHILD";

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return; // `cargo test --benches` lists benchmarks; there are none to list here.
    }
    if let Ok(child) = std::env::var(CHILD) {
        let (index, calls) = child.split_once(' ').expect("`{variant} {calls}`");
        run(
            Variant::ALL[index.parse::<usize>().expect("variant index")],
            calls.parse().expect("calls"),
        );
        return;
    }
    let selected = std::env::var("INSTRUCTIONS_VARIANTS").ok();
    let wanted = |variant: Variant| {
        selected.as_deref().is_none_or(|list| {
            list.split(',')
                .any(|name| variant.label().contains(name.trim()))
        })
    };
    println!("instructions per call, callgrind, every thread ({SHORT} vs {LONG} calls)");
    println!("{:<36} {:>14}", "variant", "instructions");
    for (index, variant) in Variant::ALL.into_iter().enumerate() {
        if !wanted(variant) {
            continue;
        }
        let short = count(index, SHORT);
        let long = count(index, LONG);
        let per_call = (long as f64 - short as f64) / (LONG - SHORT) as f64;
        println!("{:<36} {:>14.0}", variant.label(), per_call);
    }
}

/// Runs `calls` calls of `variant` after the warm-up.
fn run(variant: Variant, calls: u64) {
    let installed = install(variant);
    for _ in 0..WARM_UP + calls {
        black_box(micro::call(variant, black_box("user-42"))).ok();
    }
    if let Some(provider) = &installed.tracer_provider {
        provider.force_flush().ok();
    }
}

/// The instructions callgrind counts in a child process running `calls` calls of the variant
/// at `index`.
fn count(index: usize, calls: u64) -> u64 {
    callgrind_instructions(CHILD, &format!("{index} {calls}"))
}
