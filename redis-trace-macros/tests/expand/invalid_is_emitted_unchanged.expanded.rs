::core::compile_error! {
    "unknown Redis command `GTE`; did you mean `GET`? (for module commands such as JSON.GET add `unchecked`)"
}
::core::compile_error! {
    "`missing` is not a parameter of `get`: key and field expressions can use `id`"
}
fn get(id: &str) -> Option<String> {
    Some(id.to_owned())
}
