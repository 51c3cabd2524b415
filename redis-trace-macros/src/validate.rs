//! Semantic checks of the parsed arguments against the annotated function.
//!
//! Every problem is added to the error collector, each spanned on the token to fix; what is valid
//! is returned so expansion can proceed once there are no errors.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{Expr, ItemFn, LitStr};

use crate::args::{attribute_span, Args};
use crate::errors::Errors;

/// Everything expansion needs, checked.
pub struct Validated {
    /// The Redis command, normalized to upper case.
    pub op: String,
    /// The summary (`name = "..."`).
    pub summary: Option<LitStr>,
    /// The key expression.
    pub key: Option<Expr>,
    /// The endpoint expression.
    pub endpoint: Option<Expr>,
    /// The path of the facade crate: `::redis_trace` unless `crate = ...` was given.
    pub krate: TokenStream,
}

/// Checks `args` against `function`; returns `None` when any check failed.
pub fn validate(args: Args, function: &ItemFn, errors: &mut Errors) -> Option<Validated> {
    check_function(function, errors);
    let op = match &args.op {
        Some(op) => check_op(op, errors),
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
    let op = op?;
    Some(Validated {
        op,
        summary: args.name,
        key: args.key,
        endpoint: args.endpoint,
        krate: args
            .krate
            .map_or_else(|| quote!(::redis_trace), |path| path.to_token_stream()),
    })
}

fn check_op(op: &LitStr, errors: &mut Errors) -> Option<String> {
    let command = op.value().trim().to_ascii_uppercase();
    let well_formed = !command.is_empty()
        && command.split(' ').all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '|'))
        });
    if well_formed {
        Some(command)
    } else {
        errors.push(syn::Error::new(
            op.span(),
            "`op` must be a Redis command such as \"GET\" or \"CLIENT SETNAME\"",
        ));
        None
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
