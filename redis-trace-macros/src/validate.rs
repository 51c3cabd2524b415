//! Semantic checks of the parsed arguments against the annotated function and the Redis
//! command table.
//!
//! Every problem is added to the error collector, each spanned on the token to fix; what is valid
//! is returned so expansion can proceed once there are no errors.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::visit::Visit;
use syn::{Expr, FnArg, ItemFn, LitStr, Pat};

use crate::args::{attribute_span, Args};
use crate::errors::Errors;
use crate::suggest;
use crate::template::{self, Template};
use redis_trace_commands::{self as commands, KeyCount};

/// Everything expansion needs, checked.
pub struct Validated {
    /// The Redis command, canonical upper-case name.
    pub op: String,
    /// `db.query.summary` and the span name: `name = "..."`, else the operation and its key
    /// templates as they read (`GET user:{id}`), else none (a runtime key has no template).
    pub summary: Option<String>,
    /// The keys (`key = ...` or `keys = [...]`), in order.
    pub keys: Vec<Key>,
    /// The endpoint expression.
    pub endpoint: Option<Expr>,
    /// The key policy of this fn.
    pub key_policy: Option<KeyPolicyChoice>,
    /// Extra attributes: the user's `fields(...)`, `ttl` and `procedure`.
    pub fields: Vec<(FieldName, Expr)>,
    /// `cache = true | false`.
    pub cache: Option<bool>,
    /// The path of the facade crate: `::redis_trace` unless `crate = ...` was given.
    pub krate: TokenStream,
}

/// The name of an extra attribute.
pub enum FieldName {
    /// Named by the user in `fields(...)`, outside the namespaces redis-trace writes.
    User(String),
    /// One of redis-trace's: the name of its constant in the runtime's `semconv` (`ttl` is
    /// `REDIS_TTL`, `procedure` `DB_STORED_PROCEDURE_NAME`), so the name is written once.
    Ours(&'static str),
}

/// One key: an expression, or a template (`"user:{id}"`).
pub enum Key {
    Expression(Expr),
    Template(Template),
}

/// Checks `args` against `function`; returns `None` when any check failed.
pub fn validate(args: Args, function: &ItemFn, errors: &mut Errors) -> Option<Validated> {
    check_function(function, errors);
    let command = match &args.op {
        Some(op) => check_op(op, args.was_written("unchecked"), errors),
        None if args.was_written("op") => None,
        None => {
            errors.push(syn::Error::new(
                attribute_span(),
                "missing `op`: name the Redis command, e.g. #[redis_traced(op = \"GET\")]",
            ));
            None
        }
    };
    if let Some(summary) = &args.name {
        if summary.value().trim().is_empty() {
            errors.push(syn::Error::new(
                summary.span(),
                "`name` must not be empty: it becomes the span name",
            ));
        }
    }

    let parameters = parameter_names(function);
    let keys: Vec<Key> = collect_keys(&args, errors)
        .into_iter()
        .filter_map(|key| check_key(key, &parameters, function, errors))
        .collect();
    let key_policy = args
        .key_policy
        .as_ref()
        .and_then(|policy| check_key_policy(policy, errors));
    let mut fields = check_fields(&args, &parameters, function, errors);
    if let Some(procedure) = &args.procedure {
        check_procedure(command.as_ref(), procedure, errors);
        check_key_expression(procedure, &parameters, function, errors);
        fields.push((
            FieldName::Ours("DB_STORED_PROCEDURE_NAME"),
            procedure.clone(),
        ));
    }
    if let (Some(CheckedOp::Known(command)), Some(ttl)) = (&command, &args.ttl) {
        if !command.has_flag("write") {
            errors.push(syn::Error::new_spanned(
                ttl,
                format!(
                    "`ttl` describes expiring writes; `{}` does not write",
                    command.name
                ),
            ));
        }
    }
    if let (Some(CheckedOp::Known(command)), false) = (&command, keys.is_empty()) {
        check_key_count(command, &args, keys.len(), errors);
    }

    let op = match command? {
        CheckedOp::Known(command) => command.name.to_owned(),
        CheckedOp::Unchecked(name) => name,
    };
    let summary = match &args.name {
        Some(name) => Some(name.value()),
        None => template_summary(&op, &keys),
    };
    Some(Validated {
        op,
        summary,
        keys,
        endpoint: args.endpoint,
        key_policy,
        fields,
        cache: args.cache.as_ref().map(syn::LitBool::value),
        krate: args
            .krate
            .map_or_else(|| quote!(::redis_trace), |path| path.to_token_stream()),
    })
}

/// `{op} {template} {template}...` when every key is a template: a grouping key computed here,
/// as a literal, so a call pays nothing for it.
fn template_summary(op: &str, keys: &[Key]) -> Option<String> {
    let shapes: Option<Vec<&str>> = keys
        .iter()
        .map(|key| match key {
            Key::Template(template) => Some(template.shape.as_str()),
            Key::Expression(_) => None,
        })
        .collect();
    let shapes = shapes.filter(|shapes| !shapes.is_empty())?;
    Some(format!("{op} {}", shapes.join(" ")))
}

/// A key policy named on the attribute.
pub enum KeyPolicyChoice {
    /// `"pattern"`, `"hash"`, `"raw"`, `"omit"`, as the runtime's `CallsiteKeyPolicy::named`
    /// reads them.
    Named(&'static str),
    /// A path to `fn(&[u8]) -> Option<String>`.
    Custom(syn::ExprPath),
}

enum CheckedOp {
    Known(&'static commands::Command),
    /// A command the table does not know, accepted with `unchecked` (module commands).
    Unchecked(String),
}

fn check_op(op: &LitStr, unchecked: bool, errors: &mut Errors) -> Option<CheckedOp> {
    let written = op.value();
    let name = written.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        errors.push(syn::Error::new(
            op.span(),
            "`op` is empty: name the Redis command, e.g. \"GET\"",
        ));
        return None;
    }
    if let Some(command) = commands::lookup(&name) {
        let mut subcommands = commands::subcommands(command.name).peekable();
        if subcommands.peek().is_some() {
            let examples: Vec<_> = subcommands
                .take(4)
                .map(|sub| format!("\"{sub}\""))
                .collect();
            errors.push(syn::Error::new(
                op.span(),
                format!(
                    "`{}` needs a subcommand, e.g. {}",
                    command.name,
                    examples.join(", ")
                ),
            ));
            return None;
        }
        return Some(CheckedOp::Known(command));
    }
    if unchecked {
        return Some(CheckedOp::Unchecked(name.to_ascii_uppercase()));
    }
    let names = commands::COMMANDS.iter().map(|command| command.name);
    let message = match suggest::closest(&name, names) {
        Some(close) => format!(
            "unknown Redis command `{name}`; did you mean `{close}`? \
             (for module commands such as JSON.GET add `unchecked`)"
        ),
        None => format!(
            "unknown Redis command `{name}` (for module commands such as JSON.GET add \
             `unchecked`: #[redis_traced(op = \"{name}\", unchecked)])"
        ),
    };
    errors.push(syn::Error::new(op.span(), message));
    None
}

fn check_key_policy(policy: &Expr, errors: &mut Errors) -> Option<KeyPolicyChoice> {
    let names = commands::KeyPolicyName::ALL.map(|(name, _)| name);
    let listed = names.map(|name| format!("\"{name}\"")).join(", ");
    match policy {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(name),
            ..
        }) => {
            let value = name.value();
            if let Some(known) = names.iter().find(|known| **known == value) {
                return Some(KeyPolicyChoice::Named(known));
            }
            let close = suggest::closest(&value, names.iter().copied());
            let hint =
                close.map_or_else(String::new, |close| format!("did you mean \"{close}\"? "));
            errors.push(syn::Error::new(
                name.span(),
                format!(
                    "unknown key policy \"{value}\"; {hint}(expected {listed}, or a path to `fn(&[u8]) -> Option<String>`)"
                ),
            ));
            None
        }
        Expr::Path(path) => Some(KeyPolicyChoice::Custom(path.clone())),
        other => {
            errors.push(syn::Error::new_spanned(
                other,
                format!("`key_policy` takes {listed} or a path to `fn(&[u8]) -> Option<String>`"),
            ));
            None
        }
    }
}

fn check_fields(
    args: &Args,
    parameters: &BTreeSet<String>,
    function: &ItemFn,
    errors: &mut Errors,
) -> Vec<(FieldName, Expr)> {
    let mut fields = Vec::new();
    let mut seen = BTreeSet::new();
    for field in &args.fields {
        if commands::RESERVED_ATTRIBUTE_NAMESPACES
            .iter()
            .any(|prefix| field.name.starts_with(prefix))
        {
            errors.push(syn::Error::new(
                field.span,
                format!(
                    "`{}` is in a namespace redis-trace records itself ({}); pick another name, e.g. `app.{}`",
                    field.name,
                    commands::RESERVED_ATTRIBUTE_NAMESPACES.join(", "),
                    field.name
                ),
            ));
        } else if !seen.insert(field.name.clone()) {
            errors.push(syn::Error::new(
                field.span,
                format!("duplicate field `{}`", field.name),
            ));
        }
        check_key_expression(&field.value, parameters, function, errors);
        fields.push((FieldName::User(field.name.clone()), field.value.clone()));
    }
    if let Some(ttl) = &args.ttl {
        check_key_expression(ttl, parameters, function, errors);
        fields.push((FieldName::Ours("REDIS_TTL"), ttl.clone()));
    }
    fields
}

/// A key expression, or a string literal read as a template; its variables must be parameters.
fn check_key(
    key: Expr,
    parameters: &BTreeSet<String>,
    function: &ItemFn,
    errors: &mut Errors,
) -> Option<Key> {
    let Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Str(literal),
        ..
    }) = &key
    else {
        check_key_expression(&key, parameters, function, errors);
        return Some(Key::Expression(key));
    };
    match template::parse(literal) {
        Ok(template) => {
            for value in &template.values {
                check_key_expression(value, parameters, function, errors);
            }
            Some(Key::Template(template))
        }
        Err(error) => {
            errors.push(error);
            None
        }
    }
}

fn check_procedure(command: Option<&CheckedOp>, procedure: &Expr, errors: &mut Errors) {
    if let Some(CheckedOp::Known(command)) = command {
        if !command.runs_script() {
            errors.push(syn::Error::new_spanned(
                procedure,
                format!(
                    "`procedure` names the script or function a script call runs; `{}` runs \
                     none (use it with {})",
                    command.name,
                    commands::script_calls().join(", ")
                ),
            ));
        }
    }
}

fn collect_keys(args: &Args, errors: &mut Errors) -> Vec<Expr> {
    match (&args.key, &args.keys) {
        (Some(key), None) => vec![key.clone()],
        (None, Some(keys)) => {
            if keys.elems.is_empty() {
                errors.push(syn::Error::new_spanned(
                    keys,
                    "`keys` is empty: list the key expressions, or remove `keys`",
                ));
            }
            keys.elems.iter().cloned().collect()
        }
        (Some(_), Some(keys)) => {
            errors.push(syn::Error::new_spanned(
                keys,
                "give either `key = ...` or `keys = [...]`, not both",
            ));
            Vec::new()
        }
        (None, None) => Vec::new(),
    }
}

fn check_key_count(command: &commands::Command, args: &Args, count: usize, errors: &mut Errors) {
    let spanned: &dyn ToTokens = match (&args.key, &args.keys) {
        (Some(key), _) => key,
        (_, Some(keys)) => keys,
        _ => return,
    };
    let argument = if args.keys.is_some() { "keys" } else { "key" };
    match (command.key_count(), command.max_keys()) {
        (KeyCount::None, _) => errors.push(syn::Error::new_spanned(
            spanned,
            format!("`{}` takes no key: remove `{argument} = ...`", command.name),
        )),
        (KeyCount::One, _) if count > 1 => errors.push(syn::Error::new_spanned(
            spanned,
            format!(
                "`{}` takes one key: use `key = ...` with a single key",
                command.name
            ),
        )),
        (_, Some(max)) if count > max => errors.push(syn::Error::new_spanned(
            spanned,
            format!(
                "`{}` takes at most {max} keys (arity {}), {count} given",
                command.name, command.arity
            ),
        )),
        _ => {}
    }
}

/// Names bound by the fn's parameters, including inside destructuring patterns; `self` for
/// methods.
fn parameter_names(function: &ItemFn) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for input in &function.sig.inputs {
        match input {
            FnArg::Receiver(_) => {
                names.insert("self".to_owned());
            }
            FnArg::Typed(typed) => collect_pattern_names(&typed.pat, &mut names),
        }
    }
    names
}

fn collect_pattern_names(pattern: &Pat, names: &mut BTreeSet<String>) {
    struct Bindings<'a>(&'a mut BTreeSet<String>);
    impl Visit<'_> for Bindings<'_> {
        fn visit_pat_ident(&mut self, pattern: &syn::PatIdent) {
            self.0.insert(pattern.ident.to_string());
            syn::visit::visit_pat_ident(self, pattern);
        }
    }
    Bindings(names).visit_pat(pattern);
}

/// Every variable a key or field expression reads must be a parameter (or `self`): it is
/// evaluated before the body runs, where nothing else exists.
fn check_key_expression(
    key: &Expr,
    parameters: &BTreeSet<String>,
    function: &ItemFn,
    errors: &mut Errors,
) {
    struct Variables<'a> {
        parameters: &'a BTreeSet<String>,
        bound_in_closures: BTreeSet<String>,
        unknown: Vec<syn::Ident>,
    }
    impl Visit<'_> for Variables<'_> {
        fn visit_expr_closure(&mut self, closure: &syn::ExprClosure) {
            for input in &closure.inputs {
                collect_pattern_names(input, &mut self.bound_in_closures);
            }
            syn::visit::visit_expr_closure(self, closure);
        }
        fn visit_expr_call(&mut self, call: &syn::ExprCall) {
            // `format_key(..)`: the called path is a function, not a variable.
            if !matches!(&*call.func, Expr::Path(_)) {
                self.visit_expr(&call.func);
            }
            for argument in &call.args {
                self.visit_expr(argument);
            }
        }
        fn visit_expr_path(&mut self, path: &syn::ExprPath) {
            let Some(ident) = path.path.get_ident() else {
                return;
            };
            let name = ident.to_string();
            // Upper-case single names are constants or unit structs, not variables.
            let is_constant = name.starts_with(|c: char| c.is_ascii_uppercase());
            if path.qself.is_none()
                && !is_constant
                && !self.parameters.contains(&name)
                && !self.bound_in_closures.contains(&name)
            {
                self.unknown.push(ident.clone());
            }
        }
    }
    let mut variables = Variables {
        parameters,
        bound_in_closures: BTreeSet::new(),
        unknown: Vec::new(),
    };
    variables.visit_expr(key);
    let function_name = &function.sig.ident;
    let listed = if parameters.is_empty() {
        format!("`{function_name}` has no parameters")
    } else {
        let names: Vec<_> = parameters.iter().map(|name| format!("`{name}`")).collect();
        format!("key and field expressions can use {}", names.join(", "))
    };
    for ident in variables.unknown {
        let close = suggest::closest(&ident.to_string(), parameters.iter().map(String::as_str));
        let hint = close.map_or_else(String::new, |close| format!("did you mean `{close}`? "));
        errors.push(syn::Error::new(
            ident.span(),
            format!("`{ident}` is not a parameter of `{function_name}`: {hint}{listed}"),
        ));
    }
}

fn check_function(function: &ItemFn, errors: &mut Errors) {
    let sig = &function.sig;
    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new_spanned(
            constness,
            "#[redis_traced] cannot trace a `const fn`: remove `const` or the attribute",
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            "#[redis_traced] cannot trace an `extern` fn: wrap it in a Rust fn and trace that",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            "#[redis_traced] cannot trace a variadic fn",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `db.query.summary` the macro computes for `attribute` on a fn with parameters `id`,
    /// `other` and `name`.
    fn summary(attribute: &str) -> Option<String> {
        let function: ItemFn = syn::parse_quote! {
            fn f(id: u64, other: u64, name: &str) -> redis::RedisResult<()> { Ok(()) }
        };
        let mut errors = Errors::default();
        let args = Args::parse(attribute.parse().unwrap(), &mut errors).expect("arguments");
        let validated = validate(args, &function, &mut errors);
        let problems = errors.into_compile_errors().map(|e| e.to_string());
        assert!(problems.is_none(), "{attribute}: {problems:?}");
        validated.expect("validated").summary
    }

    #[test]
    fn template_summary_has_one_documented_form() {
        for (attribute, expected) in [
            // The operation, then each key's template as it reads, joined by one space; a
            // repeated key is kept.
            (
                r#"op = "MGET", keys = ["user:{id}", "user:{id}", "session:{other}"]"#,
                Some("MGET user:{id} user:{id} session:{other}"),
            ),
            // The canonical command name, placeholders trimmed.
            (r#"op = "get", key = "user:{ id }""#, Some("GET user:{id}")),
            // A constant key as written.
            (
                r#"op = "GET", key = "config:global""#,
                Some("GET config:global"),
            ),
            // `{{` and `}}` become single braces.
            (
                r#"op = "GET", key = "{{user:{id}}}:cart""#,
                Some("GET {user:{id}}:cart"),
            ),
            (r#"op = "GET", key = "{{config}}""#, Some("GET {config}")),
            // One runtime key, among templates or alone: no summary at all.
            (r#"op = "MGET", keys = ["user:{id}", name]"#, None),
            (r#"op = "MGET", keys = [name, "user:{id}"]"#, None),
            (r#"op = "GET", key = name"#, None),
            // No key: no summary.
            (r#"op = "PING""#, None),
            // `name = "..."` wins, over templates and runtime keys alike.
            (
                r#"op = "GET", key = "user:{id}", name = "load user""#,
                Some("load user"),
            ),
            (
                r#"op = "GET", key = name, name = "by name""#,
                Some("by name"),
            ),
        ] {
            assert_eq!(summary(attribute).as_deref(), expected, "{attribute}");
        }
    }
}
