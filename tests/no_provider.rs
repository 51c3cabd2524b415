//! With no tracer provider installed, a traced call records nothing and allocates nothing.
//!
//! Its own test binary: the tracer is resolved once per process, and this process never installs
//! a provider. Allocations are counted per thread by a counting global allocator.

use redis_trace::redis_traced;
use redis_trace_harness::{block_on, CountingAllocator};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    redis_trace_harness::allocations().0
}

#[redis_traced(op = "GET", key = id, name = "lookup")]
fn lookup(id: u64) -> redis::RedisResult<Option<u64>> {
    Ok(id.checked_sub(1))
}

#[redis_traced(op = "GET", key = id, endpoint = endpoint)]
async fn lookup_async(
    endpoint: &redis_trace::Endpoint,
    id: u64,
) -> redis::RedisResult<Option<u64>> {
    Ok(id.checked_sub(1))
}

// No `name`: the summary is the template's (`GET user:{id}:profile`), a literal the macro writes.
#[redis_traced(op = "GET", key = "user:{id}:profile")]
fn lookup_template(id: u64) -> redis::RedisResult<Option<u64>> {
    Ok(id.checked_sub(1))
}

#[test]
fn disabled_path_allocates_nothing() {
    let endpoint = redis_trace::Endpoint::tcp("127.0.0.1", 6390);
    // The first call resolves the global tracer and finds it is the no-op one.
    assert_eq!(lookup(1).unwrap(), Some(0));

    let before = allocations();
    for id in 0..1_000 {
        assert_eq!(lookup(id).unwrap(), id.checked_sub(1));
        assert_eq!(
            block_on(lookup_async(&endpoint, id)).unwrap(),
            id.checked_sub(1)
        );
        assert_eq!(lookup_template(id).unwrap(), id.checked_sub(1));
    }
    assert_eq!(
        allocations() - before,
        0,
        "allocations on the disabled path"
    );
}

#[test]
fn counting_allocator_sees_allocations() {
    // Guards the test above against counting nothing.
    let before = allocations();
    let boxed = std::hint::black_box(Box::new(7_u64));
    assert_eq!(*boxed, 7);
    assert!(allocations() > before);
}
