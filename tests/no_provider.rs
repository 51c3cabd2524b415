//! With no tracer provider installed, a traced call records nothing and allocates nothing.
//!
//! Its own test binary: the tracer is resolved once per process, and this process never installs
//! a provider. Allocations are counted per thread by a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use redis_trace::redis_traced;

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
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

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
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
