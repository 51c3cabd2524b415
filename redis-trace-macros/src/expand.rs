//! Code generation: a static callsite, a guard from the core, the original body.
//!
//! All runtime logic lives in `redis_trace::__private`; the expansion only wires the function's
//! body to it, so it stays short enough to read in `cargo expand`.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, ExprAsync, ItemFn, ReturnType, Stmt, Type};

use crate::validate::{FieldName, Key, KeyPolicyChoice, Validated};

/// The annotated function with its body wrapped in an operation.
pub fn expand(args: &Validated, function: ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
        ..
    } = function;
    let krate = &args.krate;
    let private = quote!(#krate::__private);

    let op = &args.op;
    let summary = match &args.summary {
        Some(summary) => quote!(::core::option::Option::Some(#summary)),
        None => quote!(::core::option::Option::None),
    };
    let endpoint = match &args.endpoint {
        Some(endpoint) => quote_spanned! {endpoint.span()=>
            ::core::option::Option::Some(&(#endpoint) as &dyn #private::ToEndpoint)
        },
        None => quote!(::core::option::Option::None),
    };
    let keys = args.keys.iter().map(|key| match key {
        Key::Expression(key) => {
            quote_spanned! {key.span()=> &(#key) as &dyn #private::RedisKey }
        }
        Key::Template(template) => {
            let literals = &template.literals;
            let pattern = &template.pattern;
            let values = template.values.iter().map(|value| {
                quote_spanned! {value.span()=> &(#value) as &dyn ::core::fmt::Display }
            });
            quote! {
                &#private::KeyTemplate::new(&[#(#literals),*], #pattern, &[#(#values),*])
                    as &dyn #private::RedisKey
            }
        }
    });
    let field_values = args.fields.iter().map(|(name, value)| {
        let name = match name {
            FieldName::User(name) => quote!(#name),
            FieldName::Ours(constant) => {
                let constant = Ident::new(constant, Span::call_site());
                quote!(#private::semconv::#constant)
            }
        };
        quote_spanned! {value.span()=> (#name, &(#value) as &dyn #private::FieldValue) }
    });
    // Most functions have no fields: keep their expansion one argument shorter.
    let (start, fields) = if args.fields.is_empty() {
        (quote!(start), TokenStream::new())
    } else {
        (quote!(start_with_fields), quote!(, &[#(#field_values),*]))
    };
    let key_policy = args.key_policy.as_ref().map(|policy| match policy {
        KeyPolicyChoice::Named(name) => {
            quote!(.with_key_policy(#private::CallsiteKeyPolicy::named(#name)))
        }
        KeyPolicyChoice::Custom(path) => {
            quote!(.with_key_policy(#private::CallsiteKeyPolicy::custom(#path)))
        }
    });
    let cache = args.cache.map(|cache| quote!(.with_cache(#cache)));
    // Locals the user's body cannot name (mixed-site hygiene); items are not hygienic, so the
    // static's name is prefixed instead.
    let operation = Ident::new("__operation", Span::mixed_site());
    let result = Ident::new("__result", Span::mixed_site());

    let traced = |run_body: TokenStream| {
        quote! {
            fn __redis_trace_fn() {}
            static __REDIS_TRACE_CALLSITE: #private::Callsite =
                #private::Callsite::new(#op, #summary, __redis_trace_fn)#key_policy #cache;
            let mut #operation = if #private::nothing_to_record() {
                #private::Operation::idle()
            } else {
                #private::Operation::#start(
                    &__REDIS_TRACE_CALLSITE, #endpoint, &[#(#keys),*] #fields
                )
            };
            let #result = #run_body;
            #operation.finish(#private::outcome!(&#result));
            #result
        }
    };

    let body = if let Some((box_pin, future)) = async_trait_future(&block) {
        // `#[async_trait]` already turned the fn into `Box::pin(async move { .. })`: trace
        // inside that future, so the span covers its execution, not its creation.
        let inner = &future.block;
        let statements = traced(quote! {
            #operation.instrument(async move #inner).await
        });
        quote!({ #box_pin(async move { #statements }) })
    } else if sig.asyncness.is_some() {
        let fake_return = fake_return_edge(&sig.output, &private);
        let statements = traced(quote! {
            #operation.instrument(async move { #fake_return #block }).await
        });
        quote!({ #statements })
    } else {
        let closure_return = match &sig.output {
            ReturnType::Type(arrow, ty) => {
                let ty = erase_impl_trait(ty);
                quote!(#arrow #ty)
            }
            ReturnType::Default => TokenStream::new(),
        };
        let statements = traced(quote! {
            #operation.in_scope(move || #closure_return #block)
        });
        quote!({ #statements })
    };

    quote! {
        #(#attrs)*
        #vis #sig #body
    }
}

/// The `Box::pin` path and the `async move` block of a body `#[async_trait]` generated.
fn async_trait_future(block: &Block) -> Option<(&Expr, &ExprAsync)> {
    let [Stmt::Expr(Expr::Call(call), None)] = block.stmts.as_slice() else {
        return None;
    };
    let Expr::Path(path) = &*call.func else {
        return None;
    };
    let is_box_pin = path.path.segments.last().is_some_and(|s| s.ident == "pin")
        && path.path.segments.iter().any(|s| s.ident == "Box");
    match (is_box_pin, call.args.first(), call.args.len()) {
        (true, Some(Expr::Async(future)), 1) if future.capture.is_some() => {
            Some((&call.func, future))
        }
        _ => None,
    }
}

/// An unreachable `return` of the declared type at the top of the async block, so `?`, early
/// `return` and inference inside it see the function's return type (as `tracing` does). Its
/// tokens carry the return type's span, so type errors point at the user's signature. `impl
/// Trait` cannot be named there: it becomes `_`, which keeps the rest of the type
/// (`Result<impl Display, MyError>` still tells `?` the error type).
fn fake_return_edge(output: &ReturnType, private: &TokenStream) -> TokenStream {
    let ty = match output {
        ReturnType::Type(_, ty) => erase_impl_trait(ty).to_token_stream(),
        ReturnType::Default => quote!(()),
    };
    quote_spanned! {output.span()=>
        if false {
            return #private::unreachable::<#ty>();
        }
    }
}

/// `ty` with every `impl Trait` replaced by `_`: it cannot be written in a `let` or a closure's
/// return type.
fn erase_impl_trait(ty: &Type) -> Type {
    struct Eraser;
    impl VisitMut for Eraser {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(impl_trait) = ty {
                let span = impl_trait.impl_token.span;
                *ty = syn::parse_quote_spanned!(span=> _);
                return;
            }
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
    let mut erased = ty.clone();
    Eraser.visit_type_mut(&mut erased);
    erased
}
