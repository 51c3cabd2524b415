use redis_trace::redis_traced;

struct Repo<C> {
    conn: C,
}

impl<C> Repo<C>
where
    C: redis::aio::ConnectionLike + Clone + Send + Sync,
{
    #[redis_traced(op = "GET", key = key)]
    async fn get<'k, V>(&self, key: &'k str) -> redis::RedisResult<Option<V>>
    where
        V: redis::FromRedisValue + Send,
    {
        redis::cmd("GET").arg(key).query_async(&mut self.conn.clone()).await
    }

    #[redis_traced(op = "MGET", keys = [first, second])]
    async fn both<'a, const N: usize>(&self, first: &'a str, second: &'a str) -> redis::RedisResult<[Option<String>; 2]> {
        let _ = N;
        redis::cmd("MGET").arg(first).arg(second).query_async(&mut self.conn.clone()).await
    }
}

#[redis_traced(op = "GET", key = key)]
fn borrowed<'a>(cache: &'a std::collections::HashMap<String, String>, key: &str) -> Option<&'a String> {
    cache.get(key)
}

#[redis_traced(op = "GET", key = key)]
fn borrowed_mut<'a>(cache: &'a mut Vec<String>, key: usize) -> Option<&'a mut String> {
    cache.get_mut(key)
}

fn main() {
    let mut cache = std::collections::HashMap::new();
    cache.insert("k".to_owned(), "v".to_owned());
    assert_eq!(borrowed(&cache, "k").map(String::as_str), Some("v"));
    let mut list = vec!["a".to_owned()];
    borrowed_mut(&mut list, 0).unwrap().push('b');
    assert_eq!(list[0], "ab");
}
