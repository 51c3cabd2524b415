use redis_trace::redis_traced;

#[redis_traced(op = "GET")]
const fn get() -> Option<u8> {
    None
}

fn main() {
    let _ = get();
}
