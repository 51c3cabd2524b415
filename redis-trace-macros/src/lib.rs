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
/// | `op = "GET"` | yes | the Redis command |
/// | `key = "user:{id}:profile"` | no | a key template: `{...}` names a parameter or a field path (`{id}`, `{self.tenant}`, `{user.id}`), checked at compile time; `{{`/`}}` are literal braces (hash tags: `"{{user:{id}}}:cart"`). Under the default `pattern` policy the rendering (`user:?:profile`) is computed at compile time: no work per call; under `raw`/`hash`/custom the full key is formatted only for recorded spans. A literal without placeholders is a constant key, recorded whole. Recorded as `redis.key`. Summary form: without `name`, `db.query.summary` (and the span name) is the upper-case command, one space, the template as written with placeholders trimmed and `{{`/`}}` as single braces: `GET user:{id}:profile`, `GET {user:{id}}:cart`; a constant key as written, `GET config:global`. |
/// | `key = <expr>` | no | an expression over the parameters: `key = id`, `key = &self.prefix`; anything redis-rs accepts as an argument, rendered by the key policy (`pattern` masks an id entirely: prefer a template). Keep it cheap (a reference): it is evaluated on every call, rendered only when a span is recorded. A runtime key has no template: no `db.query.summary` unless `name = "..."` is given. |
/// | `keys = [a, b]` | no | the keys of a multi-key command (`MGET`, `DEL`, `RENAME`, `EVAL`), templates or expressions: `redis.keys`, a string array. Summary form: without `name`, the command and every key's template in order, joined by one space, a repeated key kept: `MGET user:{id} user:{id} session:{sid}`; one expression among the keys means no summary at all. |
/// | `cache = true` / `false` | no | force the call to count as a cache lookup (a Lua lookup, a module command) or never, whatever the command (see *What is recorded* in the crate documentation) |
/// | `procedure = <expr>` | no | on `EVAL*`/`FCALL*`: the script's SHA or the function's name, `db.stored_procedure.name` (e.g. `procedure = self.script.get_hash()`) |
/// | `key_policy = "hash"` | no | this function's key policy: `"pattern"`, `"hash"`, `"raw"`, `"omit"`, or a path to your `fn(&[u8]) -> Option<String>` |
/// | `ttl = <expr>` | no | the time to live of an expiring write: `redis.ttl` (integers: seconds; `Duration`: seconds as a float). Rejected on commands that do not write. |
/// | `fields(app.tier = tier, ...)` | no | extra span attributes from the parameters (strings, integers, floats, `bool`, `Duration`); names in the namespaces redis-trace writes (`db.`, `server.`, `error.`, `code.`, `net.`, `cache.`, `redis.`) are rejected |
/// | `unchecked` | no | accept a command the table does not know: module commands such as `op = "JSON.GET", unchecked` |
/// | `name = "get user"` | no | low-cardinality summary: `db.query.summary` and the span name |
/// | `endpoint = <expr>` | no | anything implementing `redis_trace::ToEndpoint`: `redis::Client`, `redis::ConnectionInfo`, `redis_trace::Endpoint` (and references, `Arc`s). Overrides the default endpoint. |
/// | `crate = path` | no | the path of `redis-trace` if you renamed the dependency |
///
/// The command, keys and fields are checked at compile time against the Redis command table and
/// the function's parameters; every problem is reported, each on its own token.
///
/// What the span and the metrics carry, and how a result is classified, is described in the
/// crate documentation of `redis-trace` (*What is recorded*).
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
