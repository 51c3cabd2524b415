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
    /// `keys = [a, b]`: the keys of a multi-key command.
    pub keys: Option<syn::ExprArray>,
    /// `name = "..."`: the low-cardinality summary and span name.
    pub name: Option<LitStr>,
    /// `endpoint = <expr>`: where the server attributes come from.
    pub endpoint: Option<Expr>,
    /// `crate = path`: the path of the `redis-trace` crate, when renamed.
    pub krate: Option<Path>,
    /// `key_policy = "hash"` or `key_policy = path::to::fn`.
    pub key_policy: Option<Expr>,
    /// `ttl = <expr>`: the time to live of an expiring write.
    pub ttl: Option<Expr>,
    /// `cache = true | false`: whether the call is a cache lookup, whatever the command.
    pub cache: Option<syn::LitBool>,
    /// `procedure = <expr>`: the script SHA or function name a script call runs.
    pub procedure: Option<Expr>,
    /// `fields(name.with.dots = <expr>, ...)`: extra span attributes.
    pub fields: Vec<Field>,
    /// The names of every argument written, valid or not, so a malformed one is not also
    /// reported as missing.
    pub written: Vec<String>,
}

/// One extra attribute of `fields(...)`.
pub struct Field {
    /// The dotted attribute name.
    pub name: String,
    /// The span of the name as written.
    pub span: proc_macro2::Span,
    /// The value expression.
    pub value: Expr,
}

impl Parse for Field {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let first = Ident::parse_any(input)?;
        let mut name = first.to_string();
        let mut span = first.span();
        while input.peek(Token![.]) {
            input.parse::<Token![.]>()?;
            let segment = Ident::parse_any(input)?;
            name.push('.');
            name.push_str(&segment.to_string());
            span = span.join(segment.span()).unwrap_or(span);
        }
        input.parse::<Token![=]>()?;
        Ok(Self {
            name,
            span,
            value: input.parse()?,
        })
    }
}

/// One `name = value` pair, `fields(...)`, or a bare `name` flag, as written.
struct RawArg {
    name: Ident,
    value: Option<Expr>,
    fields: Option<Punctuated<Field, Token![,]>>,
}

impl Parse for RawArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // `crate` is a keyword; `parse_any` accepts it as a name.
        let name = Ident::parse_any(input)?;
        if input.peek(syn::token::Paren) {
            let content;
            syn::parenthesized!(content in input);
            return Ok(Self {
                name,
                value: None,
                fields: Some(content.parse_terminated(Field::parse, Token![,])?),
            });
        }
        if input.is_empty() || input.peek(Token![,]) {
            return Ok(Self {
                name,
                value: None,
                fields: None,
            });
        }
        if !input.peek(Token![=]) {
            return Err(input.error(format!(
                "expected `=` after `{name}`: arguments of #[redis_traced] are `name = value`"
            )));
        }
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(Self {
            name,
            value: Some(value),
            fields: None,
        })
    }
}

/// The argument names, for "did you mean" suggestions.
pub const ARGUMENT_NAMES: &[&str] = &[
    "op",
    "key",
    "keys",
    "name",
    "endpoint",
    "key_policy",
    "ttl",
    "cache",
    "procedure",
    "fields",
    "crate",
    "unchecked",
];

impl Args {
    /// Parses the attribute's tokens; problems are added to `errors`. `None` when the tokens
    /// are not a list of arguments at all.
    pub fn parse(tokens: TokenStream, errors: &mut Errors) -> Option<Self> {
        let mut args = Self::default();
        let parsed = Punctuated::<RawArg, Token![,]>::parse_terminated.parse2(tokens);
        let raw_args = match parsed {
            Ok(raw_args) => raw_args,
            Err(error) => {
                errors.push(error);
                return None;
            }
        };
        for RawArg {
            name,
            value,
            fields,
        } in raw_args
        {
            let label = name.to_string();
            args.written.push(label.clone());
            if label == "fields" {
                match fields {
                    Some(fields) if args.fields.is_empty() => args.fields.extend(fields),
                    Some(_) => errors.push(syn::Error::new(
                        name.span(),
                        "duplicate argument `fields`: list every field in one `fields(...)`",
                    )),
                    None => errors.push(syn::Error::new(
                        name.span(),
                        "`fields` takes a list: `fields(user.tier = tier, region = self.region)`",
                    )),
                }
                continue;
            }
            if fields.is_some() {
                errors.push(syn::Error::new(
                    name.span(),
                    format!("`{label}(...)` is not an argument; only `fields(...)` takes a list"),
                ));
                continue;
            }
            if label == "unchecked" {
                if let Some(value) = value {
                    errors.push(syn::Error::new_spanned(
                        value,
                        "`unchecked` is a flag: write `unchecked`, without a value",
                    ));
                }
                continue;
            }
            if !ARGUMENT_NAMES.contains(&label.as_str()) {
                errors.push(syn::Error::new(
                    name.span(),
                    unknown_argument_message(&label),
                ));
                continue;
            }
            let Some(value) = value else {
                errors.push(syn::Error::new(
                    name.span(),
                    format!("`{label}` needs a value: `{label} = ...`"),
                ));
                continue;
            };
            match label.as_str() {
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
                "keys" => set_once(&mut args.keys, &name, key_array(value, errors), errors),
                "endpoint" => set_once(&mut args.endpoint, &name, Some(value), errors),
                "key_policy" => set_once(&mut args.key_policy, &name, Some(value), errors),
                "ttl" => set_once(&mut args.ttl, &name, Some(value), errors),
                "cache" => set_once(&mut args.cache, &name, bool_literal(value, errors), errors),
                "procedure" => set_once(&mut args.procedure, &name, Some(value), errors),
                "crate" => set_once(&mut args.krate, &name, crate_path(value, errors), errors),
                // `fields` and `unchecked` were handled above; every other name is rejected
                // before this match, so a name added to ARGUMENT_NAMES lands here until handled.
                other => errors.push(syn::Error::new(
                    name.span(),
                    format!("internal error: argument `{other}` is known but not handled"),
                )),
            }
        }
        Some(args)
    }

    /// Whether the argument `name` was written, even if its value was rejected.
    pub fn was_written(&self, name: &str) -> bool {
        self.written.iter().any(|written| written == name)
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

fn bool_literal(value: Expr, errors: &mut Errors) -> Option<syn::LitBool> {
    if let Expr::Lit(ExprLit {
        lit: Lit::Bool(literal),
        ..
    }) = value
    {
        return Some(literal);
    }
    errors.push(syn::Error::new_spanned(
        value,
        "`cache` takes `true` (a cache lookup, whatever the command) or `false` (never one)",
    ));
    None
}

fn key_array(value: Expr, errors: &mut Errors) -> Option<syn::ExprArray> {
    if let Expr::Array(array) = value {
        return Some(array);
    }
    errors.push(syn::Error::new_spanned(
        value,
        "`keys` takes a list of key expressions: `keys = [source, destination]`",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_argument_name_is_handled() {
        for name in ARGUMENT_NAMES {
            let written = match *name {
                "fields" => "fields(app.tier = tier)".to_owned(),
                "unchecked" => "unchecked".to_owned(),
                _ => format!("{name} = x"),
            };
            let mut errors = Errors::default();
            let parsed = Args::parse(written.parse().unwrap(), &mut errors);
            assert!(parsed.is_some_and(|args| args.was_written(name)), "{name}");
            let text = errors
                .into_compile_errors()
                .map(|tokens| tokens.to_string())
                .unwrap_or_default();
            assert!(!text.contains("internal error"), "{name}: {text}");
        }
    }
}
