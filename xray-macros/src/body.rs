//! A synchronous body kept in place: the function's own `return` and `?` become `break`s out of
//! a labelled block, so the expansion records the outcome after the block whichever way the
//! body ends.
//!
//! The body is not moved into a closure: a closure would stop a `&mut` borrowed from an
//! argument from escaping (`fn first(v: &mut Vec<u8>) -> &mut u8`), hide the caller from
//! `#[track_caller]`, and cost a call on the unsampled path.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, Lifetime};

/// What `?` short-circuits with, read from the function's return type.
#[derive(Clone, Copy)]
pub(crate) enum Residual {
    /// `Err(From::from(e))`: the return type is a `Result` (or said to be one).
    Result,
    /// `None`: the return type is an `Option`.
    Option,
}

/// The body as a block expression: `'__xray_body: { … }` when it had `return` or `?` to
/// rewrite, the block unchanged otherwise (an unused label would warn in the user's crate).
pub(crate) fn in_place(block: &Block, residual: Residual) -> TokenStream {
    let label = Lifetime::new("'__xray_body", Span::mixed_site());
    let mut block = block.clone();
    let mut rewriter = Rewriter {
        label: &label,
        residual,
        rewrites: 0,
    };
    rewriter.visit_block_mut(&mut block);
    if rewriter.rewrites == 0 {
        block.into_token_stream()
    } else {
        quote!(#label: #block)
    }
}

struct Rewriter<'l> {
    label: &'l Lifetime,
    residual: Residual,
    rewrites: usize,
}

impl Rewriter<'_> {
    /// `break 'label <value>`, spanned on the `return` so errors point at the user's code.
    fn break_with(&mut self, span: Span, value: Option<TokenStream>) -> Expr {
        self.rewrites += 1;
        let label = self.label;
        let value = value.unwrap_or_default();
        // Tokens, not a parsed `Expr`: syn reads `break 'l ::path` as a labelled loop, rustc
        // reads it as intended.
        Expr::Verbatim(quote_spanned!(span=> break #label #value))
    }

    /// `match e { Ok(v) => v, Err(e) => break 'label Err(From::from(e)) }`, or the `Option`
    /// form.
    fn question_mark(&mut self, inner: &Expr, question: Span) -> Expr {
        self.rewrites += 1;
        let label = self.label;
        let v = syn::Ident::new("__xray_value", Span::mixed_site());
        let e = syn::Ident::new("__xray_residual", Span::mixed_site());
        // The conversion is spanned on the `?`, where rustc would report it.
        match self.residual {
            Residual::Result => {
                let from = quote_spanned!(question=> ::core::convert::From::from(#e));
                Expr::Verbatim(quote_spanned! {question=>
                    match #inner {
                        ::core::result::Result::Ok(#v) => #v,
                        ::core::result::Result::Err(#e) => {
                            break #label ::core::result::Result::Err(#from)
                        }
                    }
                })
            }
            Residual::Option => Expr::Verbatim(quote_spanned! {question=>
                match #inner {
                    ::core::option::Option::Some(#v) => #v,
                    ::core::option::Option::None => break #label ::core::option::Option::None,
                }
            }),
        }
    }
}

impl VisitMut for Rewriter<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            // These have a `return` and a `?` of their own.
            Expr::Closure(_) | Expr::Async(_) | Expr::Const(_) => {}
            Expr::Return(ret) => {
                if let Some(value) = &mut ret.expr {
                    self.visit_expr_mut(value);
                }
                let value = ret.expr.as_ref().map(ToTokens::to_token_stream);
                *expr = self.break_with(ret.return_token.span(), value);
            }
            Expr::Try(try_expr) => {
                self.visit_expr_mut(&mut try_expr.expr);
                *expr = self.question_mark(&try_expr.expr, try_expr.question_token.span());
            }
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }

    // Nested functions, impls and the like return from themselves.
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(body: &str, residual: Residual) -> String {
        let block: Block = syn::parse_str(body).unwrap();
        in_place(&block, residual).to_string()
    }

    #[test]
    fn a_body_without_return_or_question_mark_is_unchanged() {
        assert_eq!(rewrite("{ a + 1 }", Residual::Result), "{ a + 1 }");
    }

    #[test]
    fn returns_and_question_marks_break_out_of_the_block() {
        let out = rewrite(
            "{ if x { return Ok(1); } let n = s.parse()?; Ok(n) }",
            Residual::Result,
        );
        assert!(out.starts_with("'__xray_body : {"), "{out}");
        assert!(out.contains("break '__xray_body Ok (1)"), "{out}");
        assert!(
            out.contains("Err (:: core :: convert :: From :: from"),
            "{out}"
        );
        assert!(!out.contains("return"), "{out}");
        assert!(!out.contains('?'), "{out}");
        let out = rewrite("{ let v = o?; if v { return; } }", Residual::Option);
        assert!(out.contains("None => break '__xray_body :: core :: option :: Option :: None"));
        assert!(out.contains("break '__xray_body ;"), "{out}");
    }

    #[test]
    fn nested_closures_async_blocks_and_items_keep_theirs() {
        let body = "{ let f = || { return 1; }; let g = async { x?; Ok(()) }; \
                    fn inner() -> u8 { return 2; } f() }";
        assert_eq!(
            rewrite(body, Residual::Result),
            syn::parse_str::<Block>(body)
                .unwrap()
                .to_token_stream()
                .to_string()
        );
    }

    #[test]
    fn nested_returns_in_a_return_value_are_rewritten_too() {
        let out = rewrite("{ return g(x?); }", Residual::Result);
        assert!(!out.contains("return") && !out.contains('?'), "{out}");
    }
}
