//! The expansion's locals cannot be named from the body, and the body's own variables with the
//! same names do not disturb it.

use redis_trace::redis_traced;

#[redis_traced(op = "GET", key = key)]
async fn shadowing_async(key: &str) -> redis::RedisResult<Option<String>> {
    let __operation = key.len();
    let __result: Option<String> = Some(format!("{__operation}"));
    static __CALLSITE: u8 = 1;
    let _ = __CALLSITE;
    Ok(__result)
}

#[redis_traced(op = "GET", key = key)]
fn shadowing_sync(key: &str) -> Option<usize> {
    let __operation = key.len();
    let __result = Some(__operation);
    __result
}

fn main() {
    assert_eq!(shadowing_sync("abc"), Some(3));
    let _ = shadowing_async("k");
}
