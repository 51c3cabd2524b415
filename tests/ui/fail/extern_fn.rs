use redis_trace::redis_traced;

#[redis_traced(op = "GET")]
extern "C" fn get() -> u8 {
    0
}

fn main() {
    let _ = get();
}
