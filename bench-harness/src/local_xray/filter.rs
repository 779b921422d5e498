//! Trace filters in the X-Ray console's form: `annotation.user_id = "u-1"`, `name = "checkout"`,
//! `status = fault` or the bare keywords `ok`, `error`, `fault`, `throttle`, joined by `AND`.

use serde_json::Value;

use super::view::{Status, TraceSummary};

/// One condition of a filter.
#[derive(Debug, Clone, PartialEq)]
enum Condition {
    /// Some entity of the trace has this name (or not, with `!=`).
    Name { value: String, equal: bool },
    /// The trace's status.
    Status { value: Status, equal: bool },
    /// Some entity has this annotation with this value (or none has, with `!=`).
    Annotation {
        key: String,
        value: Value,
        equal: bool,
    },
}

/// A parsed filter; the empty filter matches every trace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    conditions: Vec<Condition>,
}

impl Filter {
    /// Parses a filter; the error says what was expected and where.
    pub fn parse(text: &str) -> Result<Filter, String> {
        let tokens = tokenize(text)?;
        let mut conditions = Vec::new();
        let mut rest = tokens.as_slice();
        while !rest.is_empty() {
            let (condition, after) = condition(rest)?;
            conditions.push(condition);
            rest = match after {
                [] => after,
                [Token::Word(w), more @ ..] if w.eq_ignore_ascii_case("and") => {
                    if more.is_empty() {
                        return Err("expected a condition after `AND`".to_owned());
                    }
                    more
                }
                [Token::Op(o), more @ ..] if o == "&&" => more,
                [other, ..] => {
                    return Err(format!("expected `AND` before {}", other.describe()));
                }
            };
        }
        Ok(Filter { conditions })
    }

    /// True when the trace satisfies every condition.
    pub fn matches(&self, trace: &TraceSummary) -> bool {
        self.conditions.iter().all(|c| match c {
            Condition::Name { value, equal } => trace.names.contains(value) == *equal,
            Condition::Status { value, equal } => (trace.status == *value) == *equal,
            Condition::Annotation { key, value, equal } => {
                let found = trace
                    .all_annotations
                    .iter()
                    .any(|(k, v)| k == key && same_value(v, value));
                found == *equal
            }
        })
    }
}

/// Annotation values compare as the console does: numbers numerically, the rest exactly.
fn same_value(actual: &Value, wanted: &Value) -> bool {
    match (actual.as_f64(), wanted.as_f64()) {
        // Exact on purpose: an annotation equals the number written in the filter.
        (Some(a), Some(w)) => a.total_cmp(&w).is_eq(),
        _ => actual == wanted,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Op(String),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Word(w) | Token::Op(w) => format!("`{w}`"),
            Token::Quoted(q) => format!("\"{q}\""),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut value = String::new();
            loop {
                match chars.next() {
                    None => return Err(format!("unclosed quote opened at column {}", at + 1)),
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, escaped)) => value.push(escaped),
                        None => return Err("a `\\` ends the filter".to_owned()),
                    },
                    Some((_, ch)) => value.push(ch),
                }
            }
            tokens.push(Token::Quoted(value));
        } else if "=!&<>".contains(c) {
            let mut op = String::new();
            while let Some(&(_, ch)) = chars.peek() {
                if !"=!&<>".contains(ch) {
                    break;
                }
                op.push(ch);
                chars.next();
            }
            tokens.push(Token::Op(op));
        } else {
            let mut word = String::new();
            while let Some(&(_, ch)) = chars.peek() {
                if ch.is_whitespace() || "=!&<>\"".contains(ch) {
                    break;
                }
                word.push(ch);
                chars.next();
            }
            tokens.push(Token::Word(word));
        }
    }
    Ok(tokens)
}

fn condition(tokens: &[Token]) -> Result<(Condition, &[Token]), String> {
    let Some(Token::Word(key)) = tokens.first() else {
        return Err(format!(
            "expected `name`, `status`, `annotation.KEY` or a status keyword, found {}",
            tokens[0].describe()
        ));
    };
    let lower = key.to_ascii_lowercase();
    if let Some(status) = Status::parse(&lower) {
        return Ok((
            Condition::Status {
                value: status,
                equal: true,
            },
            &tokens[1..],
        ));
    }
    let (equal, value, rest) = match &tokens[1..] {
        [Token::Op(op), value, rest @ ..] if op == "=" || op == "==" || op == "!=" => {
            (op != "!=", value, rest)
        }
        [Token::Op(op), ..] => {
            return Err(format!("unknown operator `{op}`, expected `=` or `!=`"));
        }
        _ => return Err(format!("expected `=` or `!=` after `{key}`")),
    };
    let text = match value {
        Token::Quoted(q) | Token::Word(q) => q.clone(),
        Token::Op(_) => return Err(format!("expected a value after `{key}`")),
    };
    let condition = if lower == "name" || lower == "service" {
        Condition::Name { value: text, equal }
    } else if lower == "status" {
        let value = Status::parse(&text.to_ascii_lowercase()).ok_or_else(|| {
            format!("unknown status `{text}`, expected ok, error, fault or throttle")
        })?;
        Condition::Status { value, equal }
    } else if let Some(annotation) = key
        .strip_prefix("annotation.")
        .or(key.strip_prefix("annotation:"))
    {
        if annotation.is_empty() {
            return Err("expected an annotation key after `annotation.`".to_owned());
        }
        let value = match value {
            Token::Quoted(q) => Value::String(q.clone()),
            // Unquoted: a number or boolean when it reads as one.
            _ => serde_json::from_str::<Value>(&text)
                .ok()
                .filter(|v| v.is_number() || v.is_boolean())
                .unwrap_or(Value::String(text)),
        };
        Condition::Annotation {
            key: annotation.to_owned(),
            value,
            equal,
        }
    } else {
        return Err(format!(
            "unknown key `{key}`, expected `name`, `status` or `annotation.KEY`"
        ));
    };
    Ok((condition, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(name: &str, status: Status, annotations: &[(&str, Value)]) -> TraceSummary {
        TraceSummary {
            trace_id: "1-5759e988-bd862e3fe1be46a994272793".into(),
            name: name.into(),
            names: vec![name.to_owned()],
            status,
            all_annotations: annotations
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            ..TraceSummary::default()
        }
    }

    #[test]
    fn console_filters_select_traces() {
        let a = summary("checkout", Status::Ok, &[("user_id", json!("u-1"))]);
        let b = summary(
            "checkout",
            Status::Fault,
            &[("user_id", json!("u-2")), ("n", json!(3))],
        );
        let cases = [
            ("", true, true),
            ("annotation.user_id = \"u-1\"", true, false),
            ("annotation.user_id != \"u-1\"", false, true),
            ("annotation.n = 3", false, true),
            ("annotation.n = 3.0", false, true),
            ("name = \"checkout\" AND fault", false, true),
            ("status = ok && annotation.user_id = u-1", true, false),
            ("name = other", false, false),
        ];
        for (text, on_a, on_b) in cases {
            let filter = Filter::parse(text).unwrap();
            assert_eq!(
                (filter.matches(&a), filter.matches(&b)),
                (on_a, on_b),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_filters_say_what_is_wrong() {
        for (text, needle) in [
            ("annotation.user_id = \"u-1", "unclosed quote"),
            ("colour = red", "unknown key `colour`"),
            ("status = broken", "unknown status `broken`"),
            ("name", "expected `=` or `!=` after `name`"),
            ("name > 3", "unknown operator `>`"),
            ("ok fault", "expected `AND` before `fault`"),
            ("ok AND", "expected a condition after `AND`"),
            ("= 3", "expected `name`"),
        ] {
            let err = Filter::parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
