#![no_main]
//! Jenkins label expressions: whatever parses prints back to text that parses to the same
//! expression, and both evaluate alike on every node; nothing panics. The first byte picks
//! which atoms the node has; the rest is the expression text.

use ci_functions::Expr;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(expr) = Expr::parse(text) else {
        return;
    };
    let printed = expr.to_string();
    let back = match Expr::parse(&printed) {
        Ok(back) => back,
        Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
    };
    assert!(back == expr, "{text:?} printed as {printed:?} parses differently");
    let atoms: Vec<&str> = expr.atoms().into_iter().collect();
    for mask in [u32::from(pick), !u32::from(pick), 0, u32::MAX] {
        let has = |a: &str| {
            atoms
                .iter()
                .position(|x| *x == a)
                .is_some_and(|i| mask >> (i % 32) & 1 == 1)
        };
        assert_eq!(expr.eval(&has), back.eval(&has), "{text:?} vs {printed:?}");
    }
});
