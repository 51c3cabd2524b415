//! The `#[redis_traced]` attribute of [redis-trace](https://docs.rs/redis-trace).
//!
//! Use it through the `redis-trace` crate (`use redis_trace::redis_traced;`): the expansion calls
//! `::redis_trace::__private`.

mod args;
mod errors;
mod expand;
mod suggest;
mod template;
mod validate;

use proc_macro::TokenStream;

/// Traces every call of a Redis repository function as an OpenTelemetry CLIENT span.
///
/// ```ignore
/// #[redis_traced(op = "GET", key = "user:{id}", name = "get user")]
/// async fn get_user(&self, id: &str) -> redis::RedisResult<Option<String>> { ... }
/// ```
///
/// # Arguments
///
/// | argument | required | meaning |
/// |---|---|---|
/// | `op = "GET"` | yes | the Redis command: `db.operation.name` |
/// | `key = "user:{id}"` | no | a key template over parameters and field paths (`{id}`, `{self.tenant}`); its `pattern` rendering (`user:?`) is computed at compile time. `redis.key` |
/// | `key = <expr>` | no | the key, an expression over the parameters (`id`, `&self.prefix`, `user.id`); anything redis-rs accepts as an argument. Recorded as `redis.key` under the key policy. |
/// | `keys = [a, b]` | no | the keys of a multi-key command, templates or expressions: `redis.keys` |
/// | `cache = true` | no | count the call as a cache lookup (`true`) or never (`false`), whatever the command |
/// | `procedure = <expr>` | no | on `EVAL*`/`FCALL*`: the script SHA or function name, `db.stored_procedure.name` |
/// | `name = "get user"` | no | low-cardinality summary: `db.query.summary` and the span name |
/// | `endpoint = <expr>` | no | anything implementing `redis_trace::ToEndpoint` (`redis::Client`, `redis::ConnectionInfo`, `redis_trace::Endpoint`): `server.address`, `server.port`, `db.namespace`. Default: the configured default endpoint. |
/// | `key_policy = "hash"` | no | this function's key policy: `"pattern"`, `"hash"`, `"raw"`, `"omit"`, or a path to `fn(&[u8]) -> Option<String>` |
/// | `ttl = <expr>` | no | the time to live of an expiring write: `redis.ttl` |
/// | `fields(app.tier = tier)` | no | extra span attributes from the parameters |
/// | `unchecked` | no | accept a command the command table does not know (module commands) |
/// | `crate = path` | no | where `redis-trace` is, if renamed in `Cargo.toml` |
///
/// The command, keys and fields are checked at compile time against the Redis command table and
/// the function's parameters; every problem is reported, each on its own token.
///
/// # What is recorded
///
/// At creation: `db.system.name = "redis"`, `db.operation.name`, `db.query.summary`,
/// `db.namespace`, `server.address`, `server.port`; on recorded spans also `code.function.name`,
/// `code.file.path`, `code.line.number`, `redis.key(s)` and the fields. The span is named after the summary, else `{op} {address}:{port}`, else
/// `{op}`; never after the key.
///
/// At the end, by the command and then the result's type: `cache.hit` for lookups (read-only
/// commands with keys, `GETDEL`, `GETEX`) returning an `Option` or a `bool`, `cache.hit_count` /
/// `cache.miss_count` for `Vec<Option<T>>` and tuples of options, `redis.applied` for
/// conditional writes (`SET .. NX`, `SETNX`, `EXPIRE`, ...); on `Err`, status Error with the message, `error.type`, and
/// `db.response.status_code` when Redis replied with an error. A future dropped before it
/// completes or a panicking body ends the span with `error.type` = `cancelled` / `panic`; the
/// panic still reaches the caller.
///
/// Works on `async fn` and plain `fn` (redis-rs's blocking API), free functions and methods with
/// any receiver. The function's behaviour is unchanged.
#[proc_macro_attribute]
pub fn redis_traced(attr: TokenStream, item: TokenStream) -> TokenStream {
    redis_traced_impl(attr.into(), item.into()).into()
}

fn redis_traced_impl(
    attr: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let mut errors = errors::Errors::default();
    let function = match syn::parse2::<syn::ItemFn>(item.clone()) {
        Ok(function) => function,
        // Another item (a struct, a fn without a body): say what the attribute applies to.
        Err(_) if syn::parse2::<syn::Item>(item.clone()).is_ok() => {
            errors.push(syn::Error::new(
                proc_macro2::Span::call_site(),
                "#[redis_traced] applies to functions with a body (`fn` or `async fn`)",
            ));
            return with_errors(errors, item);
        }
        // Not even an item: a syntax error in the fn, which the compiler reports on its own.
        Err(_) => return item,
    };
    let Some(args) = args::Args::parse(attr, &mut errors) else {
        return with_errors(errors, item);
    };
    match validate::validate(args, &function, &mut errors) {
        Some(validated) if errors.is_empty() => expand::expand(&validated, function),
        _ => with_errors(errors, item),
    }
}

/// The errors next to the original item, so the rest of the crate still type-checks.
fn with_errors(errors: errors::Errors, item: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let mut output = errors.into_compile_errors().unwrap_or_default();
    output.extend(item);
    output
}

#[cfg(test)]
mod snapshots;
