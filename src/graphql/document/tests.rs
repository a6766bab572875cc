use proptest::prelude::*;

use super::*;

const LIMITS: DocumentLimits = DocumentLimits {
    max_nesting: 64,
    max_tokens: 5_000,
    max_fields: 500,
};

const UNLIMITED: DocumentLimits = DocumentLimits {
    max_nesting: usize::MAX,
    max_tokens: usize::MAX,
    max_fields: usize::MAX,
};

fn depth_of(doc: &str) -> usize {
    scan(doc, &UNLIMITED).unwrap().depth
}

#[test]
fn nesting_counts_every_bracket_kind_outside_strings_and_comments() {
    assert_eq!(depth_of("{ a { b } }"), 2);
    assert_eq!(depth_of("{ a(x: [{ y: [1] }]) }"), 5);
    assert_eq!(depth_of("query($v: [[Int]]) { a }"), 3);
    assert_eq!(depth_of(r#"{ a(x: "{{[[((") }"#), 2);
    assert_eq!(depth_of("{ a # {{{{\n }"), 1);
    assert_eq!(depth_of(r#"{ a(x: """ {{{ \""" {{ """) }"#), 2);
}

#[test]
fn a_comment_also_ends_at_a_carriage_return() {
    // What follows `\r` is document again: its brackets count.
    assert_eq!(depth_of("{ a # x\r(x: [[[1]]]) }"), 5);
    let deep = format!("{{ a # \r(x: {}1{}) }}", "[".repeat(100), "]".repeat(100));
    assert_eq!(scan(&deep, &LIMITS), Err(Refused::TooDeep { max: 64 }));
}

#[test]
fn a_block_string_has_no_escape_but_backslash_triple_quote() {
    // `\\"""` is a backslash, then an escaped `"""`: the string goes on to the next `"""`.
    assert_eq!(depth_of(r#"{ a(x: """a\\""" [[[ """) }"#), 2);
    assert_eq!(depth_of(r#"{ a(x: """a\"""b""") }"#), 2);
}

#[test]
fn a_block_string_that_never_ends_is_refused() {
    // To the parser, `"""\\"""` with no `"""` after it is `""`, `"\\"`, `""`; each such
    // opening costs it a pass over the rest of the document. The scan refuses them.
    let shallow = r#"{ a(x: ["""\\""" [[1]]]) }"#;
    assert!(async_graphql::parser::parse_query(shallow).is_ok());
    assert!(matches!(
        scan(shallow, &LIMITS),
        Err(Refused::Syntax {
            what: UNTERMINATED_BLOCK_STRING,
            ..
        })
    ));
    // The quadratic shape is refused in one pass.
    let quadratic = format!(r#"{{ a(x: ["""{}]) }}"#, r#"\\""""#.repeat(10_000));
    assert!(matches!(
        scan(&quadratic, &UNLIMITED),
        Err(Refused::Syntax { .. })
    ));
}

#[test]
fn the_parsers_complaint_does_not_repeat_the_document() {
    let doc = format!("{{ a {} %", "b ".repeat(30_000));
    let refused = parse_guarded(&doc, &UNLIMITED_PARSE).unwrap_err();
    let message = refused.to_string();
    assert!(message.len() < 300, "{message}");
    assert!(message.contains("line 1"), "{message}");
}

const UNLIMITED_PARSE: DocumentLimits = DocumentLimits {
    max_nesting: 64,
    max_tokens: 100_000,
    max_fields: 500,
};

#[test]
fn plain_strings_follow_the_grammar() {
    assert_eq!(depth_of(r#"{ a(x: "\" [ \\ \u00e9 \/") }"#), 2);
    for bad in [
        "{ a(x: \"no end) }",
        "{ a(x: \"line\nbreak\") }",
        r#"{ a(x: "\q") }"#,
        r#"{ a(x: "\u12") }"#,
        r#"{ a(x: "\ud800") }"#,
    ] {
        assert!(
            matches!(scan(bad, &LIMITS), Err(Refused::Syntax { .. })),
            "{bad:?}"
        );
        assert!(
            async_graphql::parser::parse_query(bad).is_err(),
            "the parser accepts {bad:?}"
        );
    }
}

#[test]
fn tokens_are_counted_and_capped() {
    let limits = DocumentLimits {
        max_nesting: 64,
        max_tokens: 10,
        max_fields: 500,
    };
    // `{ a b c }`: five tokens; commas, whitespace and comments are not tokens.
    assert_eq!(scan("{ a, b, c } # x y z", &limits).unwrap().tokens, 5);
    assert_eq!(
        scan("{ a b c d e f g h i j }", &limits),
        Err(Refused::TooManyTokens { max: 10 })
    );
    assert_eq!(scan("query { ...F }", &UNLIMITED).unwrap().tokens, 5);
    assert_eq!(scan("{ a(x: -1.5e+3) }", &UNLIMITED).unwrap().tokens, 8);
}

#[test]
fn unbalanced_brackets_and_stray_characters_are_refused() {
    for bad in ["{ a ]", "{ a", "{ a } }", "{ a % }", "{ a é }", "{ a \0 }"] {
        assert!(
            matches!(scan(bad, &LIMITS), Err(Refused::Syntax { .. })),
            "{bad:?}"
        );
    }
    assert!(scan("\u{feff}{ a }", &LIMITS).is_ok());
}

#[test]
fn syntax_errors_say_where() {
    assert_eq!(
        scan("{\n  a %\n}", &LIMITS),
        Err(Refused::Syntax {
            line: 2,
            column: 5,
            what: "unexpected character"
        })
    );
}

#[test]
fn the_three_crash_shapes_are_refused_at_every_depth() {
    for depth in [1_000, 2_000, 4_000, 8_000, 10_000] {
        let open = "[".repeat(depth);
        let close = "]".repeat(depth);
        for doc in [
            format!("{{a(x:{open}{close})}}"),
            format!("{{a # comment\r(x:{open}{close})}}"),
            format!("{{a(x:\"\"\"\\\\\"\"\" b:{open}{close})}}"),
            format!("query($v: {open}Int{close}) {{ a }}"),
            format!("{{a(x:{}1{})}}", "{a:".repeat(depth), "}".repeat(depth)),
        ] {
            assert!(parse(&doc, &LIMITS).is_err(), "depth {depth}");
        }
    }
}

/// A wrong scan must not crash the process: the guarded parse alone (scan skipped) survives
/// nesting far deeper than any thread's own stack allows, and refuses it.
#[test]
fn the_parse_survives_depths_a_scan_would_have_refused() {
    let doc = format!("{{a(x:{}1{})}}", "[".repeat(20_000), "]".repeat(20_000));
    let generous = DocumentLimits {
        max_nesting: 64,
        max_tokens: 100_000,
        max_fields: 500,
    };
    assert_eq!(
        parse_guarded(&doc, &generous).map(|_| ()),
        Err(Refused::TooDeep { max: 64 })
    );
    let brackets = format!("{{a(x:\"{}\")}}", "[".repeat(200));
    let few = DocumentLimits {
        max_nesting: 64,
        max_tokens: 100,
        max_fields: 500,
    };
    assert_eq!(
        parse_guarded(&brackets, &few).map(|_| ()),
        Err(Refused::TooManyBrackets { max: 100 })
    );
}

#[test]
fn the_parsed_depth_is_measured_like_the_scan() {
    for doc in [
        "{ a { b(x: [{ y: [1] }]) @d(z: [[2]]) } }",
        "query($v: [[Int]] = [[1]]) @q(a: {b: [1]}) { a ... on Query { b } ...F }\n\
         fragment F on Query { c(x: {y: {z: 1}}) }",
    ] {
        let parsed = async_graphql::parser::parse_query(doc).unwrap();
        assert_eq!(depth::document(&parsed), depth_of(doc), "{doc}");
    }
}

// ---- property: the scan never undercounts what the parser builds ----

fn ignored() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(" ".to_owned()),
        Just(",".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("\t".to_owned()),
        Just("\u{feff}".to_owned()),
        "[ -~]{0,8}".prop_map(|c| format!("#{c}\r")),
        "[ -~]{0,8}".prop_map(|c| format!("#{c}\n")),
        "[ -~]{0,8}".prop_map(|c| format!("#{c}\r\n")),
    ]
}

fn string_literal() -> impl Strategy<Value = String> {
    let plain = prop::collection::vec(
        prop_oneof![
            "[a-z {}\\[\\]()#]{1,3}",
            Just("\\\"".to_owned()),
            Just("\\\\".to_owned()),
            Just("\\n".to_owned()),
            Just("\\u00e9".to_owned()),
            Just("\\q".to_owned()),
            Just("\\".to_owned()),
            Just("\n".to_owned()),
        ],
        0..6,
    )
    .prop_map(|parts| format!("\"{}\"", parts.concat()));
    let block = prop::collection::vec(
        prop_oneof![
            "[a-z {}\\[\\]()#]{1,3}",
            Just("\\\"\"\"".to_owned()),
            Just("\\\\".to_owned()),
            Just("\\".to_owned()),
            Just("\"".to_owned()),
            Just("\"\"".to_owned()),
            Just("\r".to_owned()),
            Just("\n".to_owned()),
        ],
        0..6,
    )
    .prop_map(|parts| format!("\"\"\"{}\"\"\"", parts.concat()));
    prop_oneof![plain, block]
}

fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("1".to_owned()),
        Just("-2.5e3".to_owned()),
        Just("null".to_owned()),
        Just("$v".to_owned()),
        string_literal(),
    ];
    leaf.prop_recursive(12, 96, 4, |inner| {
        prop_oneof![
            (prop::collection::vec((inner.clone(), ignored()), 0..4)).prop_map(|items| {
                let body: String = items.into_iter().map(|(v, s)| v + &s).collect();
                format!("[{body}]")
            }),
            (prop::collection::vec((inner, ignored()), 0..4)).prop_map(|items| {
                let body: String = items
                    .into_iter()
                    .enumerate()
                    .map(|(i, (v, s))| format!("f{i}:{s}{v} "))
                    .collect();
                format!("{{{body}}}")
            }),
        ]
    })
}

fn list_type() -> impl Strategy<Value = String> {
    (0usize..6, any::<bool>()).prop_map(|(n, bang)| {
        format!(
            "{}Int{}{}",
            "[".repeat(n),
            "]".repeat(n),
            if bang { "!" } else { "" }
        )
    })
}

fn selection() -> impl Strategy<Value = String> {
    let leaf = (value(), ignored()).prop_map(|(v, s)| format!("a(x:{s}{v})"));
    leaf.prop_recursive(8, 48, 3, |inner| {
        (prop::collection::vec((inner, ignored()), 1..3), ignored()).prop_map(|(items, s)| {
            let body: String = items.into_iter().map(|(v, s)| v + &s).collect();
            format!("b{s}{{{body}}}")
        })
    })
}

fn document() -> impl Strategy<Value = String> {
    (
        list_type(),
        value(),
        ignored(),
        selection(),
        ignored(),
        "[ -~]{0,3}",
    )
        .prop_map(|(ty, default, s1, sel, s2, noise)| {
            format!("query($v:{ty}={s1}{default}){s2}{{{sel}}}{noise}")
        })
}

/// 512 cases, or `PROPTEST_CASES`.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(512);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Whatever the parser accepts, the scan accepts too (with room enough) and never finds
    /// it shallower than it is; and the guarded parse answers every document.
    #[test]
    fn the_scan_never_undercounts_what_the_parser_accepts(doc in document()) {
        let stack = 64 << 20;
        let parsed = stacker::grow(stack, || {
            async_graphql::parser::parse_query(&doc).ok().map(|d| depth::document(&d))
        });
        let scanned = scan(&doc, &UNLIMITED);
        let refused_on_purpose = matches!(
            scanned,
            Err(Refused::Syntax { what: UNTERMINATED_BLOCK_STRING, .. })
        );
        if let (Some(real), false) = (parsed, refused_on_purpose) {
            let scanned = scanned.expect("the scan refused what the parser accepts");
            prop_assert!(scanned.depth >= real, "scan {} < parsed {real}", scanned.depth);
        }
        let _ = parse(&doc, &LIMITS);
    }

    /// Arbitrary bytes (as text) never crash the scan or the parse.
    #[test]
    fn any_text_gets_an_answer(doc in "[\\[\\]{}()\"\\\\#\r\n a-z:$.@!=|,0-9\u{feff}]{0,200}") {
        let _ = parse(&doc, &LIMITS);
    }
}
