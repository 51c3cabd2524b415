async fn both(
    conn: &mut Connection,
    first: &str,
    second: &str,
) -> Result<Vec<Option<String>>, AppError> {
    fn __redis_trace_fn() {}
    static __REDIS_TRACE_CALLSITE: ::traced_redis::__private::Callsite = ::traced_redis::__private::Callsite::new(
        "MGET",
        ::core::option::Option::None,
        __redis_trace_fn,
    );
    let mut __operation = if ::traced_redis::__private::nothing_to_record() {
        ::traced_redis::__private::Operation::idle()
    } else {
        ::traced_redis::__private::Operation::start(
            &__REDIS_TRACE_CALLSITE,
            ::core::option::Option::None,
            &[
                &(first) as &dyn ::traced_redis::__private::RedisKey,
                &(second) as &dyn ::traced_redis::__private::RedisKey,
            ],
        )
    };
    let __result = __operation
        .instrument(async move {
            if false {
                return ::traced_redis::__private::unreachable::<
                    Result<Vec<Option<String>>, AppError>,
                >();
            }
            { Ok(conn.mget(&[first, second]).await?) }
        })
        .await;
    __operation.finish(::traced_redis::__private::outcome!(& __result));
    __result
}
