async fn get_user(&self, id: &str) -> redis::RedisResult<Option<String>> {
    fn __redis_trace_fn() {}
    static __REDIS_TRACE_CALLSITE: ::redis_trace::__private::Callsite = ::redis_trace::__private::Callsite::new(
        "GET",
        ::core::option::Option::Some("get user"),
        __redis_trace_fn,
    );
    let mut __operation = if ::redis_trace::__private::nothing_to_record() {
        ::redis_trace::__private::Operation::idle()
    } else {
        ::redis_trace::__private::Operation::start(
            &__REDIS_TRACE_CALLSITE,
            ::core::option::Option::None,
            &[&(id) as &dyn ::redis_trace::__private::RedisKey],
        )
    };
    let __result = __operation
        .instrument(async move {
            if false {
                return ::redis_trace::__private::unreachable::<
                    redis::RedisResult<Option<String>>,
                >();
            }
            { self.conn.clone().get(format!("user:{id}")).await }
        })
        .await;
    __operation.finish(::redis_trace::__private::outcome!(& __result));
    __result
}
