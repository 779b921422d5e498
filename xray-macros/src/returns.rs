//! What a function returns, as far as its signature shows: how the value is recorded, and
//! whether it is a future to trace for its whole duration.

use syn::{GenericArgument, PathArguments, ReturnType, Type, TypeParamBound};

use crate::body::Residual;

/// How the return value (a future's output for futures) is recorded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Returns {
    /// `()`: nothing to record.
    Unit,
    /// A `Result` (by its last path segment, or said so with `result`): `Ok` as the response,
    /// `Err` as a fault.
    Result,
    /// `Result<(), E>`: only the error is recorded.
    UnitResult,
    /// Any other value: recorded as the response when it is `Serialize`.
    Value,
}

impl Returns {
    /// Classifies `ty` (`None` for no return type). `said_result` is the `result` argument.
    pub(crate) fn of(ty: Option<&Type>, said_result: bool) -> Returns {
        let Some(ty) = ty else {
            return Returns::Unit;
        };
        match ty {
            Type::Tuple(t) if t.elems.is_empty() => Returns::Unit,
            Type::Path(p) if p.qself.is_none() => match p.path.segments.last() {
                Some(s) if s.ident == "Result" => {
                    if ok_is_unit(&s.arguments) {
                        Returns::UnitResult
                    } else {
                        Returns::Result
                    }
                }
                _ if said_result => Returns::Result,
                _ => Returns::Value,
            },
            Type::Paren(p) => Returns::of(Some(&p.elem), said_result),
            _ if said_result => Returns::Result,
            _ => Returns::Value,
        }
    }

    /// What `?` in the body short-circuits with (`Option` only when the type says so).
    pub(crate) fn residual(ty: Option<&Type>) -> Residual {
        match ty {
            Some(Type::Path(p))
                if p.qself.is_none()
                    && p.path.segments.last().is_some_and(|s| s.ident == "Option") =>
            {
                Residual::Option
            }
            _ => Residual::Result,
        }
    }
}

/// True for `Result<(), …>`.
fn ok_is_unit(args: &PathArguments) -> bool {
    let PathArguments::AngleBracketed(a) = args else {
        return false;
    };
    matches!(a.args.first(), Some(GenericArgument::Type(Type::Tuple(t))) if t.elems.is_empty())
}

/// A return type that is a future, traced from its first poll to its completion.
pub(crate) enum Future<'a> {
    /// `impl Future<Output = T> …`: wrapped in an `async` block.
    Impl { output: &'a Type },
    /// `Pin<Box<dyn Future<Output = T> …>>` (what `#[async_trait]` writes): wrapped in
    /// `Box::pin(async move { … })`.
    Boxed { output: &'a Type },
}

impl<'a> Future<'a> {
    pub(crate) fn output(&self) -> &'a Type {
        match self {
            Future::Impl { output } | Future::Boxed { output } => output,
        }
    }
}

/// The future shape of `output`, `None` for other types, or an error where the future
/// cannot be wrapped.
pub(crate) fn future(output: &ReturnType) -> syn::Result<Option<Future<'_>>> {
    let ReturnType::Type(_, ty) = output else {
        return Ok(None);
    };
    match &**ty {
        Type::ImplTrait(t) => {
            let Some(output) = future_output(&t.bounds) else {
                return Ok(None);
            };
            if let Some(unpin) = t.bounds.iter().find(|b| bound_is(b, "Unpin")) {
                return Err(syn::Error::new_spanned(
                    unpin,
                    "a traced future cannot be `Unpin`: it is wrapped in an `async` block; \
                     return `Pin<Box<dyn Future<Output = …>>>` instead",
                ));
            }
            Ok(Some(Future::Impl { output }))
        }
        Type::Path(p) if p.qself.is_none() => {
            let Some(boxed) = single_type_arg(&p.path, "Pin") else {
                return Ok(None);
            };
            let Type::Path(b) = boxed else {
                return Ok(None);
            };
            let Some(Type::TraitObject(dyn_future)) = single_type_arg(&b.path, "Box") else {
                return Ok(None);
            };
            Ok(future_output(&dyn_future.bounds).map(|output| Future::Boxed { output }))
        }
        _ => Ok(None),
    }
}

/// `T` of `Name<T>` when the path's last segment is `Name`.
fn single_type_arg<'a>(path: &'a syn::Path, name: &str) -> Option<&'a Type> {
    let last = path.segments.last().filter(|s| s.ident == name)?;
    let PathArguments::AngleBracketed(a) = &last.arguments else {
        return None;
    };
    a.args.iter().find_map(|arg| match arg {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

fn bound_is(bound: &TypeParamBound, name: &str) -> bool {
    matches!(bound, TypeParamBound::Trait(t) if t.path.segments.last().is_some_and(|s| s.ident == name))
}

/// `T` of a `Future<Output = T>` bound.
fn future_output(
    bounds: &syn::punctuated::Punctuated<TypeParamBound, syn::Token![+]>,
) -> Option<&Type> {
    bounds.iter().find_map(|b| {
        let TypeParamBound::Trait(t) = b else {
            return None;
        };
        let last = t.path.segments.last().filter(|s| s.ident == "Future")?;
        let PathArguments::AngleBracketed(a) = &last.arguments else {
            return None;
        };
        a.args.iter().find_map(|arg| match arg {
            GenericArgument::AssocType(at) if at.ident == "Output" => Some(&at.ty),
            _ => None,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(s: &str) -> syn::Signature {
        syn::parse_str(s).unwrap()
    }

    fn returns(s: &str, said_result: bool) -> Returns {
        let sig = sig(s);
        let ty = match &sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, t) => Some(&**t),
        };
        Returns::of(ty, said_result)
    }

    #[test]
    fn result_ness_by_syntax_or_by_argument() {
        assert!(returns("fn f()", false) == Returns::Unit);
        assert!(returns("fn f() -> io::Result<()>", false) == Returns::UnitResult);
        assert!(returns("fn f() -> Result<u8, E>", false) == Returns::Result);
        assert!(returns("fn f() -> HandlerResult", false) == Returns::Value);
        assert!(returns("fn f() -> HandlerResult", true) == Returns::Result);
    }

    #[test]
    fn futures_are_recognised() {
        let s = sig("fn f() -> impl Future<Output = u8> + Send");
        assert!(matches!(future(&s.output), Ok(Some(Future::Impl { .. }))));
        let s = sig("fn f<'a>() -> Pin<Box<dyn Future<Output = u8> + Send + 'a>>");
        assert!(matches!(future(&s.output), Ok(Some(Future::Boxed { .. }))));
        let s = sig("fn f() -> impl Iterator<Item = u8>");
        assert!(matches!(future(&s.output), Ok(None)));
        let s = sig("fn f() -> impl Future<Output = u8> + Unpin");
        assert!(future(&s.output).is_err());
    }
}
