//! Checks on the decorated item: what the macros accept, and literal names and annotation keys
//! that would be refused at run time.

use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Expr, ExprCall, ExprMethodCall, FnArg, ItemFn, Lit, LitStr};

use crate::name_chars::name_char;

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Handler,
    Method,
}

impl Kind {
    pub(crate) fn attr(self) -> &'static str {
        match self {
            Kind::Handler => "`#[capture_lambda_handler]`",
            Kind::Method => "`#[capture_method]`",
        }
    }
}

/// Collects every problem instead of stopping at the first.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub(crate) fn into_result(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Checks the function's shape for the attribute.
pub(crate) fn check_fn(kind: Kind, f: &ItemFn, errors: &mut Errors) {
    let sig = &f.sig;
    let attr = kind.attr();
    if let Some(c) = &sig.constness {
        errors.push(syn::Error::new(
            c.span(),
            format!(
                "{attr} cannot be used on a `const fn`: tracing needs the clock and I/O at run time"
            ),
        ));
    }
    if let Some(v) = &sig.variadic {
        errors.push(syn::Error::new(
            v.span(),
            format!("{attr} cannot be used on a variadic function"),
        ));
    }
    if let syn::ReturnType::Type(_, ty) = &sig.output
        && let syn::Type::Never(never) = &**ty
    {
        errors.push(syn::Error::new_spanned(
            never,
            format!(
                "{attr} cannot be used on a function returning `!`: a subsegment is \
                 recorded when its function returns"
            ),
        ));
    }
    if kind == Kind::Handler {
        if sig.asyncness.is_none() {
            errors.push(syn::Error::new(
                sig.fn_token.span(),
                "`#[capture_lambda_handler]` requires an `async fn`: `lambda_runtime` handlers \
                 are async (`async fn handler(event: LambdaEvent<T>) -> Result<R, Error>`)",
            ));
        }
        match sig.inputs.first() {
            None => errors.push(syn::Error::new(
                sig.paren_token.span.join(),
                "a handler takes the invocation's event as its first argument, e.g. \
                 `event: LambdaEvent<Request>`",
            )),
            Some(FnArg::Receiver(r)) => errors.push(syn::Error::new_spanned(
                r,
                "the first argument of a handler must be the event (`LambdaEvent<T>`), not `self`",
            )),
            Some(FnArg::Typed(_)) => {}
        }
    }
}

/// Checks a literal subsegment name against X-Ray's rules.
pub(crate) fn check_name(name: &LitStr, errors: &mut Errors) {
    let value = name.value();
    if value.is_empty() {
        errors.push(syn::Error::new(
            name.span(),
            "a subsegment name cannot be empty",
        ));
        return;
    }
    let count = value.chars().count();
    if count > 200 {
        errors.push(syn::Error::new(
            name.span(),
            format!("a subsegment name has at most 200 characters, this one has {count}"),
        ));
    }
    if let Some(bad) = value.chars().find(|c| name_char(*c) == Some(false)) {
        errors.push(syn::Error::new(
            name.span(),
            format!(
                "`{}` is not allowed in a subsegment name: use letters, digits, spaces and \
                 `_ . : / % & # = + - @`",
                bad.escape_debug()
            ),
        ));
    }
}

/// True when the whole name is known valid here (1 to 200 characters, each decided allowed),
/// so the run-time check can be skipped.
pub(crate) fn name_is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 200
        && name.chars().all(|c| name_char(c) == Some(true))
}

/// True when `key` matches `[A-Za-z0-9_]{1,500}`.
fn valid_annotation_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 500
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Finds `put_annotation("literal", …)` calls (free function or method) in the body and checks
/// the literal key.
pub(crate) fn check_annotation_keys(f: &ItemFn, errors: &mut Errors) {
    struct Finder<'e> {
        errors: &'e mut Errors,
    }
    impl Finder<'_> {
        fn check(&mut self, name: &str, first: Option<&Expr>) {
            if name != "put_annotation" && name != "try_put_annotation" {
                return;
            }
            if let Some(Expr::Lit(lit)) = first
                && let Lit::Str(s) = &lit.lit
                && !valid_annotation_key(&s.value())
            {
                self.errors.push(syn::Error::new(
                    s.span(),
                    format!(
                        "invalid annotation key {:?}: keys are 1 to 500 ASCII letters, \
                         digits or `_` (X-Ray refuses others)",
                        s.value()
                    ),
                ));
            }
        }
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_expr_call(&mut self, call: &'ast ExprCall) {
            if let Expr::Path(p) = &*call.func
                && let Some(last) = p.path.segments.last()
            {
                self.check(&last.ident.to_string(), call.args.first());
            }
            syn::visit::visit_expr_call(self, call);
        }
        fn visit_expr_method_call(&mut self, call: &'ast ExprMethodCall) {
            self.check(&call.method.to_string(), call.args.first());
            syn::visit::visit_expr_method_call(self, call);
        }
        // Nested items are checked by their own attributes, if any.
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    Finder { errors }.visit_block(&f.block);
}

/// Checks what the signature returns: a future that can be traced, and `result` only where a
/// value can be a `Result`.
pub(crate) fn check_returns(f: &ItemFn, result: Option<&syn::Ident>, errors: &mut Errors) {
    let future = match crate::returns::future(&f.sig.output) {
        Ok(future) => future,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let Some(flag) = result else {
        return;
    };
    let value = match (&future, &f.sig.output) {
        (Some(future), _) if f.sig.asyncness.is_none() => Some(future.output()),
        (_, syn::ReturnType::Type(_, ty)) => Some(&**ty),
        (_, syn::ReturnType::Default) => None,
    };
    if crate::returns::Returns::of(value, true) == crate::returns::Returns::Unit {
        errors.push(syn::Error::new_spanned(
            flag,
            "`result` is for functions returning a `Result` under another name (e.g. a type \
             alias); this one returns `()`",
        ));
    }
}
