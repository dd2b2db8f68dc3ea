//! Label expressions: whatever parses prints back to text that parses to the same expression,
//! and arbitrary text never panics the parser.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ci_functions::Expr;
use proptest::prelude::*;

mod strategies;

fn expr() -> impl Strategy<Value = Expr> {
    let atom = prop_oneof![
        "[a-z][a-z0-9._-]{0,8}".prop_map(Expr::Atom),
        ".{0,6}".prop_map(Expr::Atom),
    ];
    strategies::expr_over(atom, 5, 40)
}

proptest! {
    #[test]
    fn printed_expressions_parse_back(e in expr()) {
        let text = e.to_string();
        prop_assert_eq!(Expr::parse(&text), Ok(e), "{}", text);
    }

    #[test]
    fn any_text_parses_or_fails_cleanly(text in ".{0,40}", node in prop::collection::vec("[a-z]{1,3}", 0..4)) {
        if let Ok(e) = Expr::parse(&text) {
            let has = |a: &str| node.iter().any(|n| n == a);
            let _ = e.eval(&has);
            prop_assert_eq!(Expr::parse(&e.to_string()), Ok(e));
        }
    }
}
