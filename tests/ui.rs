//! Compile-time contract of `#[redis_traced]`: exact errors for misuse, and the signature shapes
//! it must accept. Update the expected `.stderr` after an intended change with
//! `TRYBUILD=overwrite cargo test --test ui` and review the diff.
//!
//! `tests/ui/fail` holds cases whose output is only redis-trace's own errors: the same on every
//! rustc. `tests/ui/rustc` holds cases whose output includes rustc's own diagnostics (a type
//! mismatch, an unmet trait bound), whose wording changes between releases: they are compared
//! only on the rustc they were blessed with, and say so on other versions (as tracing-attributes
//! gates its UI tests).

use std::io::Write as _;
use std::process::Command;

/// The rustc `tests/ui/rustc/*.stderr` were blessed with (`major.minor`).
const BLESSED_WITH: &str = "1.95";

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}

#[test]
fn rustc_diagnostics() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(&rustc).arg("-V").output().expect("rustc -V");
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    // "rustc 1.95.0 (59807616e 2026-04-14)" → "1.95"
    let minor: String = version
        .split_whitespace()
        .nth(1)
        .and_then(|full| full.rsplit_once('.'))
        .map(|(major_minor, _)| major_minor.to_owned())
        .unwrap_or_default();
    if minor != BLESSED_WITH {
        let _ = writeln!(
            std::io::stderr(),
            "NOTE: tests/ui/rustc not compared: blessed with rustc {BLESSED_WITH}, this is {}; \
             bless with `TRYBUILD=overwrite cargo test --test ui` and update BLESSED_WITH",
            version.trim()
        );
        return;
    }
    trybuild::TestCases::new().compile_fail("tests/ui/rustc/*.rs");
}
