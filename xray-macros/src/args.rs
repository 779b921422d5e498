//! The attribute's arguments: `name = "…"`, `capture_response = bool`, `capture_error = bool`.

use syn::parse::{Parse, ParseStream};
use syn::{Ident, Lit, LitBool, LitStr, Token};

/// The arguments as written, each with the tokens to point errors at.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) capture_response: Option<LitBool>,
    pub(crate) capture_error: Option<LitBool>,
}

const KNOWN: [&str; 3] = ["name", "capture_response", "capture_error"];

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        let mut errors: Option<syn::Error> = None;
        let mut push = |e: syn::Error| match &mut errors {
            Some(all) => all.combine(e),
            None => errors = Some(e),
        };
        while !input.is_empty() {
            let key: Ident = input.parse().map_err(|e| {
                syn::Error::new(e.span(), "expected an argument such as `name = \"…\"`")
            })?;
            let key_text = key.to_string();
            if !input.peek(Token![=]) {
                let msg = if KNOWN.contains(&key_text.as_str()) {
                    format!("`{key_text}` needs a value: `{key_text} = …`")
                } else {
                    unknown_message(&key_text)
                };
                push(syn::Error::new(key.span(), msg));
                skip_to_comma(input)?;
                continue;
            }
            input.parse::<Token![=]>()?;
            let value: Lit = match input.parse() {
                Ok(v) => v,
                Err(_) => {
                    let found: proc_macro2::TokenTree = input.parse()?;
                    push(syn::Error::new_spanned(
                        found,
                        format!("expected a literal value for `{key_text}`"),
                    ));
                    skip_to_comma(input)?;
                    continue;
                }
            };
            match key_text.as_str() {
                "name" => match value {
                    Lit::Str(s) => set(&mut args.name, s, &key, &mut push),
                    other => push(syn::Error::new_spanned(
                        other,
                        "expected a string literal for `name`, e.g. `name = \"## submit\"`",
                    )),
                },
                "capture_response" | "capture_error" => {
                    let slot = if key_text == "capture_response" {
                        &mut args.capture_response
                    } else {
                        &mut args.capture_error
                    };
                    match value {
                        Lit::Bool(b) => set(slot, b, &key, &mut push),
                        other => push(syn::Error::new_spanned(
                            other,
                            format!("expected `true` or `false` for `{key_text}`"),
                        )),
                    }
                }
                _ => push(syn::Error::new(key.span(), unknown_message(&key_text))),
            }
            if input.is_empty() {
                break;
            }
            if let Err(e) = input.parse::<Token![,]>() {
                push(syn::Error::new(e.span(), "expected `,` between arguments"));
                return Err(errors.expect("just pushed"));
            }
        }
        match errors {
            Some(e) => Err(e),
            None => Ok(args),
        }
    }
}

fn set<T>(slot: &mut Option<T>, value: T, key: &Ident, push: &mut impl FnMut(syn::Error)) {
    if slot.is_some() {
        push(syn::Error::new(
            key.span(),
            format!("duplicate argument `{key}`"),
        ));
    } else {
        *slot = Some(value);
    }
}

fn skip_to_comma(input: ParseStream<'_>) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<proc_macro2::TokenTree>()?;
    }
    if input.peek(Token![,]) {
        input.parse::<Token![,]>()?;
    }
    Ok(())
}

fn unknown_message(found: &str) -> String {
    let closest = KNOWN
        .iter()
        .map(|k| (edit_distance(found, k), *k))
        .min()
        .filter(|(d, _)| *d <= 3);
    match closest {
        Some((_, k)) => format!("unknown argument `{found}`, expected `{k}`"),
        None => format!(
            "unknown argument `{found}`, expected `name`, `capture_response` or `capture_error`"
        ),
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("nmae", "name"), 2);
        assert_eq!(edit_distance("name", "name"), 0);
        assert_eq!(edit_distance("capture_respone", "capture_response"), 1);
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            unknown_message("nmae"),
            "unknown argument `nmae`, expected `name`"
        );
        assert!(unknown_message("banana_split").contains("expected `name`, `capture_response`"));
    }
}
