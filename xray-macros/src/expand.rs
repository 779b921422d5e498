//! Writes the expanded function: the user's signature and body, wrapped in a subsegment.
//!
//! Glue identifiers use `Span::mixed_site()` so they can never clash with the user's names;
//! the user's tokens keep their spans so type errors in the body point at user code.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::visit::Visit;
use syn::{FnArg, ItemFn, LitStr, ReturnType, Type};

use crate::args::Args;
use crate::body;
use crate::returns::{self, Returns};

/// The declared return type, `None` for none.
fn declared(sig: &syn::Signature) -> Option<&Type> {
    match &sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => Some(ty),
    }
}

/// True when the type mentions `impl Trait`, which cannot annotate a `let`.
fn has_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut f = Finder(false);
    f.visit_type(ty);
    f.0
}

/// `if false { return <value of the return type> }`: fixes the type of the closure or async
/// block the body moves into, so `?` and `return` inside it infer as in the original function.
fn pin_return_type(sig: &syn::Signature) -> TokenStream {
    let ReturnType::Type(_, ty) = &sig.output else {
        return TokenStream::new();
    };
    if has_impl_trait(ty) || Returns::of(Some(ty), false) == Returns::Unit {
        return TokenStream::new();
    }
    let fake = Ident::new("__xray_fake_return", Span::mixed_site());
    quote! {
        #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::empty_loop)]
        if false {
            let #fake: #ty = loop {};
            return #fake;
        }
    }
}

/// `let __xray_options: &'static CaptureOptions = { static …; &… };`
///
/// The static lives in a block of its own: an item declared in the function's body would be
/// visible to the user's code there (items are not hygienic), shadowing any item of theirs
/// with the same name. The local that refers to it is hygienic.
fn options(f: &ItemFn, args: &Args) -> TokenStream {
    // `r#match` is named `match`.
    let fn_name = f.sig.ident.unraw().to_string();
    let name = args.name.as_ref().map_or_else(
        || LitStr::new(&format!("## {fn_name}"), Span::call_site()),
        Clone::clone,
    );
    // Names with characters the macro cannot decide get the run-time check (which has the
    // schema's exact table).
    let name_is_valid = crate::validate::name_is_valid(&name.value());
    let response_key = LitStr::new(&format!("{fn_name} response"), Span::call_site());
    let error_key = LitStr::new(&format!("{fn_name} error"), Span::call_site());
    let flag = |v: &Option<syn::LitBool>| match v {
        Some(b) => quote!(::core::option::Option::Some(#b)),
        None => quote!(::core::option::Option::None),
    };
    let capture_response = flag(&args.capture_response);
    let capture_error = flag(&args.capture_error);
    let statik = Ident::new("__XRAY_OPTIONS", Span::mixed_site());
    let local = options_ident();
    quote! {
        let #local: &'static ::xray_core::__private::CaptureOptions = {
            static #statik: ::xray_core::__private::CaptureOptions =
                ::xray_core::__private::CaptureOptions {
                    name: #name,
                    name_is_valid: #name_is_valid,
                    response_key: #response_key,
                    error_key: #error_key,
                    capture_response: #capture_response,
                    capture_error: #capture_error,
                };
            &#statik
        };
    }
}

fn options_ident() -> Ident {
    Ident::new("__xray_options", Span::mixed_site())
}

fn result_ident() -> Ident {
    Ident::new("__xray_result", Span::mixed_site())
}

/// The closure given to `finish`: records the outcome of a value of type `ty` with the right
/// dispatch. With `result`, the value is matched as a `Result`, and a type that is not one is
/// reported at the `result` argument.
fn record_outcome(ty: Option<&Type>, result_flag: Option<&Ident>) -> TokenStream {
    let result = result_ident();
    let r = Ident::new("__xray_recorder", Span::mixed_site());
    let v = Ident::new("__xray_value", Span::mixed_site());
    let e = Ident::new("__xray_error", Span::mixed_site());
    let imports = quote! {
        #[allow(unused_imports)]
        use ::xray_core::__private::{
            ErrorBoxed as _, ErrorBoxedSync as _, ErrorDebug as _, ErrorDisplay as _,
            ErrorOpaque as _, ErrorStd as _, ResponseOther as _, ResponseSerialize as _,
        };
    };
    let returns = Returns::of(ty, result_flag.is_some());
    let body = match returns {
        Returns::Unit => quote! { let _ = #r; },
        Returns::Value => quote! {
            #imports
            (&::xray_core::__private::Wrap(&#result)).__xray_response(#r);
        },
        Returns::Result | Returns::UnitResult => {
            let ok = if returns == Returns::Result {
                quote! { (&::xray_core::__private::Wrap(#v)).__xray_response(#r); }
            } else {
                quote! { let _ = #v; }
            };
            let span = result_flag.map_or_else(Span::call_site, Ident::span);
            let (ok_pat, err_pat) = (
                quote_spanned!(span=> ::core::result::Result::Ok(#v)),
                quote_spanned!(span=> ::core::result::Result::Err(#e)),
            );
            quote! {
                #imports
                match &#result {
                    #ok_pat => {
                        #ok
                    }
                    #err_pat => {
                        (&&&&&&::xray_core::__private::Wrap(#e)).__xray_error(#r);
                    }
                }
            }
        }
    };
    quote! {
        |#r: &mut ::xray_core::__private::Recorder<'_>| {
            #body
        }
    }
}

/// `#[capture_method]`.
pub(crate) fn method(f: &ItemFn, args: &Args) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = f;
    let flag = args.result.as_ref();
    let body = if sig.asyncness.is_some() {
        async_body(f, args)
    } else if let Ok(Some(future)) = returns::future(&sig.output) {
        future_body(f, args, &future)
    } else {
        let opts = options(f, args);
        let options_ref = options_ident();
        let result = result_ident();
        let span = Ident::new("__xray_span", Span::mixed_site());
        let ty = declared(sig);
        let record = record_outcome(ty, flag);
        let inner = body::in_place(block, Returns::residual(ty));
        // The span is bound before the body and finished after it, never moved in between:
        // the unsampled path is then one test of `None` and no drop flag.
        // A body that always diverges (`panic!`) is the user's business, not a lint on the
        // binding the expansion adds.
        let run = match ty {
            _ if Returns::of(ty, false) == Returns::Unit => quote! { #inner; },
            Some(ty) if !has_impl_trait(ty) => quote! {
                #[allow(clippy::diverging_sub_expression)]
                let #result: #ty = #inner;
            },
            _ => quote! {
                #[allow(clippy::diverging_sub_expression)]
                let #result = #inner;
            },
        };
        let tail = if Returns::of(ty, false) == Returns::Unit {
            TokenStream::new()
        } else {
            quote!(#result)
        };
        quote! {
            #opts
            let #span = ::xray_core::__private::SyncSpan::enter(#options_ref);
            #run
            // A body that always diverges (`panic!`, `loop {}`) makes this unreachable.
            #[allow(unreachable_code)]
            if let ::core::option::Option::Some(#span) = #span {
                #span.finish(#record);
            }
            #tail
        }
    };
    quote! {
        #(#attrs)*
        #vis #sig {
            #body
        }
    }
}

/// An `async fn`: the body runs in an `async` block polled inside the span.
fn async_body(f: &ItemFn, args: &Args) -> TokenStream {
    let opts = options(f, args);
    let options_ref = options_ident();
    let result = result_ident();
    let span = Ident::new("__xray_span", Span::mixed_site());
    let pin = pin_return_type(&f.sig);
    let record = record_outcome(declared(&f.sig), args.result.as_ref());
    let block = &f.block;
    quote! {
        #opts
        let mut #span = ::xray_core::__private::AsyncSpan::enter(#options_ref);
        let #result = #span.instrument(async move {
            #pin
            #block
        }).await;
        #span.finish(#record);
        #result
    }
}

/// A function returning a future (`impl Future`, or the `Pin<Box<dyn Future>>` of
/// `#[async_trait]`): the body runs in place and builds the future, which is wrapped so the
/// subsegment opens at its first poll and closes when it completes.
fn future_body(f: &ItemFn, args: &Args, future: &returns::Future<'_>) -> TokenStream {
    let opts = options(f, args);
    let options_ref = options_ident();
    let result = result_ident();
    let span = Ident::new("__xray_span", Span::mixed_site());
    let inner_future = Ident::new("__xray_future", Span::mixed_site());
    let record = record_outcome(Some(future.output()), args.result.as_ref());
    let ty = declared(&f.sig);
    let inner = body::in_place(&f.block, Returns::residual(ty));
    let annotation = match ty {
        Some(ty) if !has_impl_trait(ty) => quote!(: #ty),
        _ => TokenStream::new(),
    };
    let traced = quote! {
        async move {
            let mut #span = ::xray_core::__private::AsyncSpan::enter(#options_ref);
            let #result = #span.instrument(#inner_future).await;
            #span.finish(#record);
            #result
        }
    };
    let traced = match future {
        returns::Future::Impl { .. } => traced,
        returns::Future::Boxed { .. } => quote!(::std::boxed::Box::pin(#traced)),
    };
    quote! {
        #opts
        let #inner_future #annotation = #inner;
        #traced
    }
}

/// `#[capture_lambda_handler]`: the first argument becomes the glue's, and the user's pattern
/// is bound from it inside the body.
pub(crate) fn handler(f: &ItemFn, args: &Args) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = f;
    let mut sig = sig.clone();
    let event = format_ident!("__xray_event", span = Span::mixed_site());
    let Some(FnArg::Typed(first)) = sig.inputs.first_mut() else {
        // Reported by validation; keep the function as written.
        return quote!(#f);
    };
    let pat = std::mem::replace(
        &mut *first.pat,
        syn::Pat::Ident(syn::PatIdent {
            attrs: Vec::new(),
            by_ref: None,
            mutability: None,
            ident: event.clone(),
            subpat: None,
        }),
    );
    let ty = first.ty.clone();
    let opts = options(f, args);
    let options_ref = options_ident();
    let result = result_ident();
    let invocation = Ident::new("__xray_invocation", Span::mixed_site());
    let pin = pin_return_type(&sig);
    let record = record_outcome(declared(&sig), args.result.as_ref());
    // The source type is named with the user's tokens, so a type that carries no trace
    // header is reported at the argument's type rather than at the attribute.
    // `impl Trait` can be neither named in a turbofish nor annotate a `let`.
    let (source, annotation) = if has_impl_trait(&ty) {
        (TokenStream::new(), TokenStream::new())
    } else {
        (quote!(::<#ty>), quote!(: #ty))
    };
    let begin = quote! {
        ::xray_core::__private::LambdaInvocation::begin #source (&#event, #options_ref)
    };
    quote! {
        #(#attrs)*
        #vis #sig {
            #opts
            let mut #invocation = #begin;
            let #result = #invocation.instrument(async move {
                #[allow(clippy::no_effect_underscore_binding)]
                let #pat #annotation = #event;
                #pin
                #block
            }).await;
            #invocation.finish(#record);
            #result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options_of(item: &str) -> String {
        let f: ItemFn = syn::parse_str(item).unwrap();
        options(&f, &Args::default()).to_string()
    }

    #[test]
    fn default_names_come_from_the_function() {
        let out = options_of("fn submit() {}");
        assert!(out.contains("name : \"## submit\""), "{out}");
        assert!(out.contains("response_key : \"submit response\""), "{out}");
        assert!(out.contains("error_key : \"submit error\""), "{out}");
    }

    #[test]
    fn raw_identifiers_are_named_without_their_prefix() {
        let out = options_of("fn r#match() {}");
        assert!(out.contains("name : \"## match\""), "{out}");
        assert!(out.contains("response_key : \"match response\""), "{out}");
    }
}
