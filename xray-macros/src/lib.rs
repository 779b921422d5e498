//! Attribute macros for `xray-core`: `#[capture_lambda_handler]` and `#[capture_method]`.
//!
//! Use them through `xray_core`, which re-exports them; the expansions call
//! `::xray_core::__private`.
//!
//! Every problem with the arguments or the item is reported at the offending tokens, all at
//! once, and the function is still emitted unchanged so the rest of the crate keeps
//! compiling (and IDEs keep working).

mod args;
mod body;
mod expand;
mod name_chars;
mod returns;
mod validate;

use proc_macro::TokenStream;
use quote::ToTokens;

use validate::{Errors, Kind};

/// Traces a `lambda_runtime` handler: the invocation's trace header comes from the event's
/// `Context`, the handler runs in a subsegment `## <fn name>` annotated with `ColdStart` and
/// `Service`, and the document is sent before the handler returns.
///
/// Arguments: `name = "…"`, `capture_response = bool`, `capture_error = bool`, and `result`
/// (see [`macro@capture_method`]).
///
/// ```ignore
/// #[xray_core::capture_lambda_handler]
/// async fn handler(event: LambdaEvent<Request>) -> Result<Response, Error> { /* … */ }
/// ```
#[proc_macro_attribute]
pub fn capture_lambda_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Handler, args, item)
}

/// Traces a function or method (sync or `async`) as a subsegment `## <fn name>` of the
/// current one. `Ok`/plain values are recorded as metadata when they are `Serialize`; `Err`
/// values mark a fault and are recorded with their `source()` chain.
///
/// Arguments: `name = "…"`, `capture_response = bool`, `capture_error = bool`, and the bare
/// flag `result`.
///
/// - A synchronous body runs in place (no closure): it may return a `&mut` borrowed from an
///   argument, and `#[track_caller]` sees the caller. Its own `return` and `?` are recorded as
///   its outcome; a `?` short-circuits with `None` when the declared return type is an
///   `Option`, with `Err(From::from(e))` otherwise.
/// - A function returning `impl Future<Output = T>` or `Pin<Box<dyn Future<Output = T> …>>`
///   (what `#[async_trait]` writes for an `async fn` in a trait impl) is traced from the
///   future's first poll to its completion, and `T` is recorded. A future that must be
///   `Unpin` is rejected: the wrapper is an `async` block.
/// - `Result`-ness is read from the syntax: a return type whose last segment is `Result`.
///   For a type alias (`-> HandlerResult`), write `#[capture_method(result)]` so `Err` is
///   recorded as a fault; without it the value is recorded as a plain response.
///
/// # Limitations
///
/// The macro sees only the tokens of the body: a `return` or `?` produced by another macro
/// (`anyhow::bail!`, `ensure!`, or `?` inside a macro's arguments) leaves a synchronous
/// function without its outcome recorded: the subsegment is closed with its real duration
/// and marked `xray_sdk.dropped_before_completion`, with no fault. Other future types
/// (`BoxFuture<'_, T>`, named futures) are traced for the time it takes to build them.
///
/// ```ignore
/// #[xray_core::capture_method]
/// async fn submit_user(user: &User) -> Result<(), DbError> { /* … */ }
/// ```
#[proc_macro_attribute]
pub fn capture_method(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Method, args, item)
}

fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = match syn::parse::<args::Args>(args) {
        Ok(a) => a,
        Err(e) => {
            errors.push(e);
            args::Args::default()
        }
    };
    let Ok(f) = syn::parse::<syn::ItemFn>(item.clone()) else {
        errors.push(not_a_function(kind, &item));
        let mut out = proc_macro2::TokenStream::from(item);
        if let Err(e) = errors.into_result() {
            out.extend(e.to_compile_error());
        }
        return out.into();
    };
    if let Some(name) = &args.name {
        validate::check_name(name, &mut errors);
    }
    validate::check_fn(kind, &f, &mut errors);
    validate::check_returns(&f, args.result.as_ref(), &mut errors);
    validate::check_annotation_keys(&f, &mut errors);
    if let Err(e) = errors.into_result() {
        let mut out = f.to_token_stream();
        out.extend(e.to_compile_error());
        return out.into();
    }
    match kind {
        Kind::Handler => expand::handler(&f, &args),
        Kind::Method => expand::method(&f, &args),
    }
    .into()
}

/// The error for an item that is not a function with a body, pointing at what it is.
fn not_a_function(kind: Kind, item: &TokenStream) -> syn::Error {
    let attr = kind.attr();
    if let Ok(f) = syn::parse::<syn::TraitItemFn>(item.clone())
        && f.default.is_none()
    {
        return syn::Error::new_spanned(
            &f.sig,
            format!("{attr} needs a function with a body; put it on the implementation"),
        );
    }
    match syn::parse::<syn::Item>(item.clone()) {
        Ok(other) => {
            let what = item_kind(&other);
            let tokens = item_head(&other);
            syn::Error::new_spanned(
                tokens,
                format!("{attr} can only be applied to functions, not to {what}"),
            )
        }
        Err(_) => syn::Error::new(
            proc_macro2::Span::call_site(),
            format!("{attr} can only be applied to functions"),
        ),
    }
}

fn item_kind(item: &syn::Item) -> &'static str {
    match item {
        syn::Item::Struct(_) => "a struct",
        syn::Item::Enum(_) => "an enum",
        syn::Item::Impl(_) => "an impl block (put it on the methods)",
        syn::Item::Trait(_) => "a trait",
        syn::Item::Mod(_) => "a module",
        syn::Item::Const(_) => "a const",
        syn::Item::Static(_) => "a static",
        syn::Item::Type(_) => "a type alias",
        syn::Item::Use(_) => "a use declaration",
        _ => "this item",
    }
}

/// The tokens that name the item (its keyword and identifier), to point the error at.
fn item_head(item: &syn::Item) -> proc_macro2::TokenStream {
    use quote::quote;
    match item {
        syn::Item::Struct(s) => {
            let (t, i) = (&s.struct_token, &s.ident);
            quote!(#t #i)
        }
        syn::Item::Enum(e) => {
            let (t, i) = (&e.enum_token, &e.ident);
            quote!(#t #i)
        }
        syn::Item::Impl(i) => {
            let (t, ty) = (&i.impl_token, &i.self_ty);
            quote!(#t #ty)
        }
        syn::Item::Trait(t) => {
            let (k, i) = (&t.trait_token, &t.ident);
            quote!(#k #i)
        }
        syn::Item::Mod(m) => {
            let (k, i) = (&m.mod_token, &m.ident);
            quote!(#k #i)
        }
        syn::Item::Const(c) => {
            let (k, i) = (&c.const_token, &c.ident);
            quote!(#k #i)
        }
        syn::Item::Static(s) => {
            let (k, i) = (&s.static_token, &s.ident);
            quote!(#k #i)
        }
        other => other.to_token_stream(),
    }
}
