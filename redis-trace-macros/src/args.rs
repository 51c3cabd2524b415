//! Parsing `#[redis_traced(...)]` into typed arguments that keep their spans.
//!
//! Parsing is lenient on purpose: every `name = value` pair is read, and what is wrong with one
//! (unknown name, duplicate, wrong kind of value) is collected so all problems are reported at
//! once, each on its own token.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ExprPath, Ident, Lit, LitStr, Path, Token};

use crate::errors::Errors;

/// The attribute's arguments, each with the span of what the user wrote.
#[derive(Default)]
pub struct Args {
    /// `op = "GET"`: the Redis command.
    pub op: Option<LitStr>,
    /// `key = <expr>`: the key, an expression over the fn's parameters.
    pub key: Option<Expr>,
    /// `name = "..."`: the low-cardinality summary and span name.
    pub name: Option<LitStr>,
    /// `endpoint = <expr>`: where the server attributes come from.
    pub endpoint: Option<Expr>,
    /// `crate = path`: the path of the `redis-trace` crate, when renamed.
    pub krate: Option<Path>,
}

/// One `name = value` pair as written.
struct RawArg {
    name: Ident,
    value: Expr,
}

impl Parse for RawArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // `crate` is a keyword; `parse_any` accepts it as a name.
        let name = Ident::parse_any(input)?;
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(
                name.span(),
                format!(
                    "expected `{name} = ...`: every argument of #[redis_traced] is `name = value`"
                ),
            ));
        }
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(Self { name, value })
    }
}

/// The argument names, for "did you mean" suggestions.
pub const ARGUMENT_NAMES: &[&str] = &["op", "key", "name", "endpoint", "crate"];

impl Args {
    /// Parses the attribute's tokens; problems are added to `errors`.
    pub fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = Self::default();
        let parsed = Punctuated::<RawArg, Token![,]>::parse_terminated.parse2(tokens);
        let raw_args = match parsed {
            Ok(raw_args) => raw_args,
            Err(error) => {
                errors.push(error);
                return args;
            }
        };
        for RawArg { name, value } in raw_args {
            match name.to_string().as_str() {
                "op" => set_once(
                    &mut args.op,
                    &name,
                    string_literal(&name, value, errors),
                    errors,
                ),
                "name" => {
                    set_once(
                        &mut args.name,
                        &name,
                        string_literal(&name, value, errors),
                        errors,
                    );
                }
                "key" => set_once(&mut args.key, &name, Some(value), errors),
                "endpoint" => set_once(&mut args.endpoint, &name, Some(value), errors),
                "crate" => set_once(&mut args.krate, &name, crate_path(value, errors), errors),
                unknown => errors.push(syn::Error::new(
                    name.span(),
                    unknown_argument_message(unknown),
                )),
            }
        }
        args
    }
}

fn set_once<T>(slot: &mut Option<T>, name: &Ident, value: Option<T>, errors: &mut Errors) {
    if slot.is_some() {
        errors.push(syn::Error::new(
            name.span(),
            format!("duplicate argument `{name}`: give it once"),
        ));
    } else if value.is_some() {
        *slot = value;
    }
}

fn string_literal(name: &Ident, value: Expr, errors: &mut Errors) -> Option<LitStr> {
    if let Expr::Lit(ExprLit {
        lit: Lit::Str(literal),
        ..
    }) = value
    {
        return Some(literal);
    }
    let shown = quote::ToTokens::to_token_stream(&value).to_string();
    errors.push(syn::Error::new_spanned(
        value,
        format!("`{name}` takes a string literal: `{name} = \"{shown}\"`"),
    ));
    None
}

fn crate_path(value: Expr, errors: &mut Errors) -> Option<Path> {
    if let Expr::Path(ExprPath {
        path, qself: None, ..
    }) = value
    {
        return Some(path);
    }
    errors.push(syn::Error::new_spanned(
        value,
        "`crate` takes a path: `crate = ::my_redis_trace`",
    ));
    None
}

fn unknown_argument_message(unknown: &str) -> String {
    let known = ARGUMENT_NAMES
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match crate::suggest::closest(unknown, ARGUMENT_NAMES.iter().copied()) {
        Some(close) => format!(
            "unknown argument `{unknown}`; did you mean `{close}`? (expected one of {known})"
        ),
        None => format!("unknown argument `{unknown}` (expected one of {known})"),
    }
}

/// The span to blame for a missing argument: the whole attribute.
pub fn attribute_span() -> Span {
    Span::call_site()
}
