//! The attribute's arguments: `name = "…"`, `capture_response = bool`, `capture_error = bool`,
//! and the bare flag `result`.

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, Lit, LitBool, LitStr, Token};

use crate::validate::Errors;

/// The arguments as written, each with the tokens to point errors at.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) capture_response: Option<LitBool>,
    pub(crate) capture_error: Option<LitBool>,
    /// `result`: the return type is a `Result` the syntax does not show (a type alias).
    pub(crate) result: Option<Ident>,
}

const KNOWN: [&str; 4] = ["name", "capture_response", "capture_error", "result"];

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        let mut errors = Errors::default();
        while !input.is_empty() {
            // Keywords too, so `type = "x"` is an unknown argument rather than a parse error.
            let key = match input.call(Ident::parse_any) {
                Ok(key) => key,
                Err(e) => {
                    let msg = match input.parse::<LitStr>() {
                        Ok(s) => format!(
                            "expected `name = {:?}`: arguments are written `key = value`",
                            s.value()
                        ),
                        Err(_) => "expected an argument such as `name = \"…\"`".to_owned(),
                    };
                    errors.push(syn::Error::new(e.span(), msg));
                    return Err(errors.into_result().expect_err("just pushed"));
                }
            };
            let key_text = key.to_string();
            if !KNOWN.contains(&key_text.as_str()) {
                errors.push(syn::Error::new(key.span(), unknown_message(&key_text)));
                skip_argument(input);
            } else if key_text == "result" {
                if input.peek(Token![=]) {
                    let value = skip_argument(input);
                    errors.push(syn::Error::new_spanned(
                        quote!(#key #value),
                        "`result` takes no value: write `result`",
                    ));
                } else {
                    set(&mut args.result, key.clone(), &key, &mut errors);
                }
            } else if let Some(value) = parse_value(input, &key, &key_text, &mut errors) {
                match (key_text.as_str(), value) {
                    ("name", Lit::Str(s)) => set(&mut args.name, s, &key, &mut errors),
                    ("capture_response", Lit::Bool(b)) => {
                        set(&mut args.capture_response, b, &key, &mut errors);
                    }
                    ("capture_error", Lit::Bool(b)) => {
                        set(&mut args.capture_error, b, &key, &mut errors);
                    }
                    (_, other) => {
                        errors.push(syn::Error::new_spanned(other, expected_value(&key_text)));
                    }
                }
            }
            if input.is_empty() {
                break;
            }
            if input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
            } else {
                errors.push(syn::Error::new(
                    input.span(),
                    "expected `,` between arguments",
                ));
                // `name = "x" capture_error = false`: read the next argument too.
                if !looks_like_argument(input) {
                    break;
                }
            }
        }
        errors.into_result().map(|()| args)
    }
}

/// After `key`: `= <literal>`. Anything else is reported (the whole value, up to the next
/// argument, is skipped) and gives `None`.
fn parse_value(
    input: ParseStream<'_>,
    key: &Ident,
    key_text: &str,
    errors: &mut Errors,
) -> Option<Lit> {
    let Ok(eq) = input.parse::<Token![=]>() else {
        errors.push(syn::Error::new(key.span(), needs_value(key_text)));
        skip_argument(input);
        return None;
    };
    if input.is_empty() || input.peek(Token![,]) {
        errors.push(syn::Error::new_spanned(
            quote!(#key #eq),
            needs_value(key_text),
        ));
        return None;
    }
    let value = input.parse::<Lit>();
    let rest_is_value = !input.is_empty() && !input.peek(Token![,]) && !looks_like_argument(input);
    match value {
        Ok(lit) if !rest_is_value => Some(lit),
        // An expression (`NAME`, `-1`, `"x".to_owned()`): point at all of it.
        value => {
            let mut tokens = value.map(ToTokens::into_token_stream).unwrap_or_default();
            tokens.extend(skip_argument(input));
            errors.push(syn::Error::new_spanned(tokens, expected_value(key_text)));
            None
        }
    }
}

/// Skips to the next `,` (left in place), returning the tokens skipped.
fn skip_argument(input: ParseStream<'_>) -> TokenStream {
    let mut skipped = TokenStream::new();
    while !input.is_empty() && !input.peek(Token![,]) {
        match input.parse::<TokenTree>() {
            Ok(tt) => skipped.extend([tt]),
            Err(_) => break,
        }
    }
    skipped
}

/// True when the input continues with `ident =`, the start of another argument.
fn looks_like_argument(input: ParseStream<'_>) -> bool {
    let fork = input.fork();
    fork.call(Ident::parse_any).is_ok() && fork.peek(Token![=]) && !fork.peek(Token![==])
}

fn set<T>(slot: &mut Option<T>, value: T, key: &Ident, errors: &mut Errors) {
    if slot.is_some() {
        errors.push(syn::Error::new(
            key.span(),
            format!("duplicate argument `{key}`: give it once"),
        ));
    } else {
        *slot = Some(value);
    }
}

fn example(key: &str) -> &'static str {
    match key {
        "name" => "name = \"## submit\"",
        "capture_response" => "capture_response = false",
        _ => "capture_error = false",
    }
}

fn needs_value(key: &str) -> String {
    format!("`{key}` needs a value, e.g. `{}`", example(key))
}

fn expected_value(key: &str) -> String {
    if key == "name" {
        format!(
            "expected a string literal for `name`, e.g. `{}`",
            example(key)
        )
    } else {
        format!("expected `true` or `false` for `{key}`")
    }
}

fn unknown_message(found: &str) -> String {
    let closest = KNOWN
        .iter()
        .map(|k| (edit_distance(found, k), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(1) || k.ends_with(&format!("_{found}")))
        .min();
    match closest {
        Some((_, k)) => format!("unknown argument `{found}`, expected `{k}`"),
        None => format!(
            "unknown argument `{found}`, expected `name`, `capture_response`, `capture_error` \
             or `result`"
        ),
    }
}

/// Edit distance with adjacent transpositions (optimal string alignment), for "did you mean"
/// suggestions: `nmae` is one edit from `name`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows: two back, one back, current.
    let mut two_back: Vec<usize> = Vec::new();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j - 1] + cost).min(prev[j] + 1).min(cur[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(two_back[j - 2] + 1);
            }
        }
        two_back = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("nmae", "name"), 1);
        assert_eq!(edit_distance("name", "name"), 0);
        assert_eq!(edit_distance("", "name"), 4);
        assert_eq!(edit_distance("trace", "name"), 3);
        assert_eq!(edit_distance("capture_respone", "capture_response"), 1);
        assert_eq!(edit_distance("ca", "abc"), 3);
    }

    #[test]
    fn suggestions() {
        let suggested = |found: &str| {
            let msg = unknown_message(found);
            KNOWN
                .iter()
                .find(|k| msg.ends_with(&format!("expected `{k}`")))
                .copied()
        };
        assert_eq!(suggested("nmae"), Some("name"));
        assert_eq!(suggested("names"), Some("name"));
        assert_eq!(suggested("capture_respone"), Some("capture_response"));
        assert_eq!(suggested("capture_errors"), Some("capture_error"));
        assert_eq!(suggested("response"), Some("capture_response"));
        assert_eq!(suggested("error"), Some("capture_error"));
        assert_eq!(suggested("trace"), None);
        assert_eq!(suggested("id"), None);
        assert!(unknown_message("banana_split").contains("expected `name`, `capture_response`"));
    }

    fn errors_of(args: &str) -> Vec<String> {
        match syn::parse_str::<Args>(args) {
            Ok(_) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn every_error_is_reported() {
        assert_eq!(
            errors_of("nmae = \"a\", name =, capture_error = 1, capture_response"),
            [
                "unknown argument `nmae`, expected `name`",
                "`name` needs a value, e.g. `name = \"## submit\"`",
                "expected `true` or `false` for `capture_error`",
                "`capture_response` needs a value, e.g. `capture_response = false`",
            ]
        );
    }

    #[test]
    fn values_that_are_not_literals() {
        assert_eq!(
            errors_of("name = NAME, capture_error = !false, name = \"a\".to_owned()"),
            [
                "expected a string literal for `name`, e.g. `name = \"## submit\"`",
                "expected `true` or `false` for `capture_error`",
                "expected a string literal for `name`, e.g. `name = \"## submit\"`",
            ]
        );
        assert_eq!(
            errors_of("type = 1, async"),
            [
                "unknown argument `type`, expected `name`, `capture_response`, `capture_error` or `result`",
                "unknown argument `async`, expected `name`, `capture_response`, `capture_error` or `result`",
            ]
        );
    }

    #[test]
    fn a_missing_comma_is_reported_and_the_next_argument_still_read() {
        assert_eq!(
            errors_of("name = \"a\" capture_error = 1"),
            [
                "expected `,` between arguments",
                "expected `true` or `false` for `capture_error`",
            ]
        );
        assert_eq!(
            errors_of("\"## c\""),
            ["expected `name = \"## c\"`: arguments are written `key = value`"]
        );
        let ok = syn::parse_str::<Args>("name = \"a\", capture_error = false,").unwrap();
        assert_eq!(ok.name.unwrap().value(), "a");
        assert!(!ok.capture_error.unwrap().value);
        assert!(ok.capture_response.is_none());
        assert!(ok.result.is_none());
    }

    #[test]
    fn result_is_a_bare_flag() {
        let ok = syn::parse_str::<Args>("result, name = \"a\"").unwrap();
        assert_eq!(ok.result.unwrap().to_string(), "result");
        assert_eq!(
            errors_of("result = true, result, result"),
            [
                "`result` takes no value: write `result`",
                "duplicate argument `result`: give it once",
            ]
        );
        assert_eq!(
            errors_of("reslt"),
            ["unknown argument `reslt`, expected `result`"]
        );
    }
}
