//! Proptest strategies shared by the property tests.

use ci_functions::Expr;
use proptest::prelude::*;

/// Label expressions over `atom`: NOT, AND, OR, `->` and `<->` nested up to `depth` levels and
/// about `size` nodes.
pub(crate) fn expr_over(
    atom: impl Strategy<Value = Expr> + 'static,
    depth: u32,
    size: u32,
) -> impl Strategy<Value = Expr> {
    atom.prop_recursive(depth, size, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| Expr::Implies(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Expr::Iff(Box::new(a), Box::new(b))),
        ]
    })
}
