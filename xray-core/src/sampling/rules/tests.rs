use super::*;

fn err(json: &str) -> String {
    LocalRules::parse(json).unwrap_err().to_string()
}

const DEFAULT: &str = r#""default":{"fixed_target":1,"rate":0.05}"#;

#[test]
fn reads_both_versions() {
    let v2 = LocalRules::parse(&format!(
        r#"{{"version":2,{DEFAULT},"rules":[{{"id":"1","description":"d","host":"*",
        "http_method":"*","url_path":"/checkout","fixed_target":10,"rate":0.05}}]}}"#
    ))
    .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(v2.rules[0].url_path.as_str(), "/checkout");
    assert_eq!(v2.rules[0].reservoir.capacity(), 10);

    let v1 = LocalRules::parse(&format!(
        r#"{{"version":1,{DEFAULT},"rules":[{{"service_name":"api.example.com",
        "http_method":"GET","url_path":"*","fixed_target":0,"rate":1}}]}}"#
    ))
    .unwrap();
    assert_eq!(v1.rules[0].host.as_str(), "api.example.com");
    assert!((v1.rules[0].rate - 1.0).abs() < f64::EPSILON);
    assert_eq!(v1.default.reservoir.capacity(), 1);

    let no_rules = LocalRules::parse(&format!(r#"{{"version":2,{DEFAULT}}}"#)).unwrap();
    assert!(no_rules.rules.is_empty());
}

#[test]
fn errors_name_the_field_and_value() {
    let rule = |body: &str| format!(r#"{{"version":2,{DEFAULT},"rules":[{body}]}}"#);
    let ok = r#""host":"*","http_method":"*","url_path":"*","fixed_target":1"#;
    for (json, want) in [
        (
            rule(&format!(r#"{{{ok},"rate":1.5}}"#)),
            "rules[0].rate: must be between 0 and 1, got 1.5",
        ),
        (
            rule(&format!(r#"{{{ok},"rate":-0.1}}"#)),
            "rules[0].rate: must be between 0 and 1, got -0.1",
        ),
        (
            rule(&format!(r#"{{{ok},"rate":"0.5"}}"#)),
            r#"rules[0].rate: must be between 0 and 1, got "0.5""#,
        ),
        (
            rule(&format!("{{{ok}}}")),
            "rules[0].rate: is required: the fraction of requests sampled beyond `fixed_target`, 0 to 1",
        ),
        (
            rule(r#"{"host":"*","http_method":"*","url_path":"*","fixed_target":-1,"rate":0}"#),
            "rules[0].fixed_target: must be a whole number >= 0, got -1",
        ),
        (
            rule(r#"{"host":"*","http_method":"*","url_path":"*","fixed_target":2.5,"rate":0}"#),
            "rules[0].fixed_target: must be a whole number >= 0, got 2.5",
        ),
        (
            rule(r#"{"http_method":"*","url_path":"*","fixed_target":1,"rate":0}"#),
            r#"rules[0].host: is required; use "*" to match anything"#,
        ),
        (
            rule(r#"{"host":"","http_method":"*","url_path":"*","fixed_target":1,"rate":0}"#),
            r#"rules[0].host: must not be empty (an empty pattern matches only empty values); use "*" to match anything"#,
        ),
        (
            rule(r#"{"host":5,"http_method":"*","url_path":"*","fixed_target":1,"rate":0}"#),
            "rules[0].host: must be a string, got 5",
        ),
        (
            rule(
                r#"{"service_name":"a","http_method":"*","url_path":"*","fixed_target":1,"rate":0}"#,
            ),
            "rules[0].service_name: not a version 2 field; version 2 calls it `host`",
        ),
        (
            rule(&format!(r#"{{{ok},"rate":0,"url-path":"/x"}}"#)),
            "rules[0].url-path: unknown field; expected one of description, id, host, http_method, url_path, fixed_target, rate",
        ),
        (
            rule(&format!(r#"{{{ok},"rate":0,"description":7}}"#)),
            "rules[0].description: must be a string, got 7",
        ),
        (rule("[]"), "rules[0]: must be an object, got []"),
        (
            format!(r#"{{"version":2,{DEFAULT},"rules":{{}}}}"#),
            "rules: must be an array, got {}",
        ),
        (
            r#"{"version":2}"#.to_owned(),
            "default: is required: the rule for requests no other rule matches",
        ),
        (
            r#"{"version":2,"default":{"fixed_target":1,"rate":0.05,"url_path":"/a"}}"#.to_owned(),
            "default.url_path: not allowed in the default rule, which matches every request",
        ),
        (
            r#"{"version":2,"default":{"fixed_target":1,"rate":0.05,"host":"a"}}"#.to_owned(),
            "default.host: not allowed in the default rule, which matches every request",
        ),
        (
            r#"{"version":1,"default":{"fixed_target":1,"rate":0.05,"service_name":"a"}}"#
                .to_owned(),
            "default.service_name: not allowed in the default rule, which matches every request",
        ),
        (
            r#"{"version":2,"default":{"rate":0.05}}"#.to_owned(),
            "default.fixed_target: is required: the number of requests sampled each second before `rate` applies",
        ),
        (
            r#"{"version":2,"default":[]}"#.to_owned(),
            "default: must be an object, got []",
        ),
        (
            format!("{{{DEFAULT}}}"),
            "version: is required; expected 1 or 2",
        ),
        (
            format!(r#"{{"version":3,{DEFAULT}}}"#),
            "version: must be 1 or 2, got 3",
        ),
        (
            format!(r#"{{"version":"2",{DEFAULT}}}"#),
            r#"version: must be 1 or 2, got "2""#,
        ),
        (
            format!(r#"{{"version":2,{DEFAULT},"extra":1}}"#),
            "extra: unknown field; expected version, default and rules",
        ),
        ("[1,2]".to_owned(), "$: must be a JSON object, got [1,2]"),
    ] {
        assert_eq!(err(&json), want, "{json}");
    }
}

#[test]
fn the_index_points_at_the_bad_rule() {
    let good = r#"{"host":"*","http_method":"*","url_path":"*","fixed_target":1,"rate":0.1}"#;
    let bad = r#"{"host":"*","http_method":"*","url_path":"*","fixed_target":1,"rate":1.5}"#;
    let json = format!(r#"{{"version":2,{DEFAULT},"rules":[{good},{good},{bad}]}}"#);
    assert_eq!(
        err(&json),
        "rules[2].rate: must be between 0 and 1, got 1.5"
    );
    let e = LocalRules::parse(&json).unwrap_err();
    assert_eq!(e.field(), Some("rules[2].rate"));
    let v1 = r#"{"version":1,"default":{"fixed_target":1,"rate":0.05},
        "rules":[{"host":"*","http_method":"*","url_path":"*","fixed_target":1,"rate":0.1}]}"#;
    assert_eq!(
        err(v1),
        "rules[0].host: not a version 1 field; version 1 calls it `service_name`"
    );
}

#[test]
fn syntax_errors_carry_a_position_and_long_values_are_cut() {
    let e = LocalRules::parse("{\"version\": 2,\n  \"default\": }").unwrap_err();
    assert!(matches!(e, RulesError::Json { line: 2, .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("sampling rules are not valid JSON (line 2"),
        "{e}"
    );
    assert_eq!(e.field(), None);
    let long = "x".repeat(100);
    let e = err(&format!(r#"{{"version":"{long}",{DEFAULT}}}"#));
    assert!(e.ends_with('…') && e.len() < 80, "{e}");
}

#[test]
fn never_panics_on_arbitrary_json_shapes() {
    for json in [
        "",
        "null",
        "1",
        "\"s\"",
        "{}",
        r#"{"version":2,"default":null}"#,
        "{\"version\":1e400}",
    ] {
        assert!(LocalRules::parse(json).is_err(), "{json}");
    }
}
