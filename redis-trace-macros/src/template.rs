//! Key templates: `key = "user:{id}:profile"`.
//!
//! A template is split at compile time into its literal pieces and its placeholders; each
//! placeholder is a parameter or a field path (`{id}`, `{self.tenant}`, `{user.id}`), checked
//! like any key expression; a literal without placeholders is a constant key, recorded whole.
//! `{{` and `}}` are literal braces, as in `format!` (Redis hash tags:
//! `"{{user:{id}}}:cart"`). The pattern rendering (`user:?:profile`) is computed here, so the
//! default key policy costs nothing per call.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Expr, LitStr};

/// A parsed key template.
pub struct Template {
    /// The literal text around the placeholders: one more piece than `values`.
    pub literals: Vec<String>,
    /// The key with each placeholder as `?`.
    pub pattern: String,
    /// The key as its shape reads: literal braces single, placeholders as written
    /// (`"{{user:{id}}}"` → `{user:{id}}`), for the query summary.
    pub shape: String,
    /// The placeholder expressions, spanned on the template literal.
    pub values: Vec<Expr>,
}

/// Parses `literal` as a template, or says what is wrong with it.
pub fn parse(literal: &LitStr) -> Result<Template, syn::Error> {
    let text = literal.value();
    let error = |message: String| syn::Error::new(literal.span(), message);
    let mut literals = vec![String::new()];
    let mut pattern = String::new();
    let mut shape = String::new();
    let mut values = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                push_literal(&mut literals, &mut pattern, '{');
                shape.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                push_literal(&mut literals, &mut pattern, '}');
                shape.push('}');
            }
            '{' => {
                let mut placeholder = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => {
                            return Err(error(format!(
                                "unclosed `{{` in key template \"{text}\": placeholders are \
                                 `{{name}}`; write `{{{{` and `}}}}` for literal braces (hash \
                                 tags: \"{{{{user:{{id}}}}}}\")"
                            )))
                        }
                        Some(c) => placeholder.push(c),
                    }
                }
                values.push(placeholder_expression(&placeholder, literal)?);
                shape.push_str(&format!("{{{}}}", placeholder.trim()));
                literals.push(String::new());
                pattern.push('?');
            }
            '}' => {
                return Err(error(format!(
                    "unmatched `}}` in key template \"{text}\": write `}}}}` for a literal brace"
                )))
            }
            c => {
                push_literal(&mut literals, &mut pattern, c);
                shape.push(c);
            }
        }
    }
    Ok(Template {
        literals,
        pattern,
        shape,
        values,
    })
}

fn push_literal(literals: &mut [String], pattern: &mut String, c: char) {
    if let Some(last) = literals.last_mut() {
        last.push(c);
    }
    pattern.push(c);
}

/// The expression of `{placeholder}`: a parameter or a path of fields, spanned on `literal`.
fn placeholder_expression(placeholder: &str, literal: &LitStr) -> Result<Expr, syn::Error> {
    let invalid = || {
        syn::Error::new(
            literal.span(),
            format!(
                "`{{{placeholder}}}` in a key template must name a parameter or a field path \
                 (`{{id}}`, `{{self.tenant}}`, `{{user.id}}`); format specs and other \
                 expressions are not supported"
            ),
        )
    };
    let expression: Expr = syn::parse_str(placeholder.trim()).map_err(|_| invalid())?;
    if !is_field_path(&expression) {
        return Err(invalid());
    }
    syn::parse2(respanned(expression.to_token_stream(), literal.span())).map_err(|_| invalid())
}

fn is_field_path(expression: &Expr) -> bool {
    match expression {
        Expr::Path(path) => path.qself.is_none() && path.path.get_ident().is_some(),
        Expr::Field(field) => is_field_path(&field.base),
        _ => false,
    }
}

/// `tokens` with every span set to `span`, so errors about them point at the template.
fn respanned(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respanned(group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<(Vec<String>, String, Vec<String>), String> {
        let literal = LitStr::new(text, Span::call_site());
        parse(&literal)
            .map(|template| {
                let values = template
                    .values
                    .iter()
                    .map(|value| value.to_token_stream().to_string())
                    .collect();
                (template.literals, template.pattern, values)
            })
            .map_err(|error| error.to_string())
    }

    #[test]
    fn templates_split_into_literals_and_placeholders() {
        let (literals, pattern, values) = parsed("user:{id}:profile").unwrap();
        assert_eq!(literals, ["user:", ":profile"]);
        assert_eq!(pattern, "user:?:profile");
        assert_eq!(values, ["id"]);
        let (literals, pattern, values) = parsed("{{t:{self.tenant}}}:{ user.id }").unwrap();
        assert_eq!(literals, ["{t:", "}:", ""]);
        assert_eq!(pattern, "{t:?}:?");
        assert_eq!(values, ["self . tenant", "user . id"]);
        // A constant key is code, not data: the pattern policy keeps it whole.
        let (literals, pattern, values) = parsed("config:global").unwrap();
        assert_eq!(
            (literals, pattern.as_str()),
            (vec!["config:global".to_owned()], "config:global")
        );
        assert!(values.is_empty());
    }

    #[test]
    fn malformed_templates_are_rejected() {
        for (text, expected) in [
            ("user:{id", "unclosed"),
            ("user:{id}}", "unmatched"),
            ("user:{}", "must name a parameter"),
            ("user:{id:x}", "must name a parameter"),
            ("user:{f(id)}", "must name a parameter"),
        ] {
            let error = parsed(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
