fn profile(&mut self, id: u64) -> redis::RedisResult<HashMap<String, String>> {
    fn __redis_trace_fn() {}
    static __REDIS_TRACE_CALLSITE: ::redis_trace::__private::Callsite = ::redis_trace::__private::Callsite::new(
        "HGETALL",
        ::core::option::Option::None,
        __redis_trace_fn,
    );
    let mut __operation = if ::redis_trace::__private::nothing_to_record() {
        ::redis_trace::__private::Operation::idle()
    } else {
        ::redis_trace::__private::Operation::start(
            &__REDIS_TRACE_CALLSITE,
            ::core::option::Option::Some(
                &(self.client) as &dyn ::redis_trace::__private::ToEndpoint,
            ),
            &[&(id) as &dyn ::redis_trace::__private::RedisKey],
        )
    };
    let __result = __operation
        .in_scope(move || -> redis::RedisResult<HashMap<String, String>> {
            self.conn.hgetall(format!("profile:{id}"))
        });
    __operation.finish(::redis_trace::__private::outcome!(& __result));
    __result
}
