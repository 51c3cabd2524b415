//! Compile-time contract of `#[redis_traced]`: exact errors for misuse, and the signature shapes
//! it must accept. Update the expected `.stderr` after an intended change with
//! `TRYBUILD=overwrite cargo test --test ui` and review the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
