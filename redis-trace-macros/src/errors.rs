//! Collects every problem with one attribute so they are reported together.

use proc_macro2::TokenStream;

/// All errors found so far, combined into one `syn::Error` at the end.
#[derive(Default)]
pub struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    /// Records one problem.
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// Whether no problem was recorded.
    pub fn is_empty(&self) -> bool {
        self.combined.is_none()
    }

    /// `compile_error!` invocations for every problem, or nothing.
    pub fn into_compile_errors(self) -> Option<TokenStream> {
        self.combined.map(syn::Error::into_compile_error)
    }
}
