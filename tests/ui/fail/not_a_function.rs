use redis_trace::redis_traced;

#[redis_traced(op = "GET")]
struct Repo;

fn main() {
    let _ = Repo;
}
