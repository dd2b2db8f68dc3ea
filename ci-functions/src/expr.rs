//! Jenkins label expressions: atoms (bare or double-quoted), `!`, `&&`, `||`, `->`, `<->` and
//! parentheses, from tightest to loosest binding, binary operators grouping to the left.

use std::collections::BTreeSet;
use std::fmt;

/// A syntax error, with the byte offset where it was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("label expression {input:?}, at byte {offset}: expected {expected}")]
pub struct ExprError {
    /// The whole expression.
    pub input: String,
    /// Where parsing stopped.
    pub offset: usize,
    /// What would have been accepted there.
    pub expected: &'static str,
}

/// A parsed label expression.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Expr {
    /// A label atom.
    Atom(String),
    /// `!e`
    Not(Box<Self>),
    /// `a && b`
    And(Box<Self>, Box<Self>),
    /// `a || b`
    Or(Box<Self>, Box<Self>),
    /// `a -> b`
    Implies(Box<Self>, Box<Self>),
    /// `a <-> b`
    Iff(Box<Self>, Box<Self>),
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Atom(a) => write!(f, "{a:?}"),
            Self::Not(e) => write!(f, "!{e:?}"),
            Self::And(a, b) => write!(f, "({a:?} && {b:?})"),
            Self::Or(a, b) => write!(f, "({a:?} || {b:?})"),
            Self::Implies(a, b) => write!(f, "({a:?} -> {b:?})"),
            Self::Iff(a, b) => write!(f, "({a:?} <-> {b:?})"),
        }
    }
}

/// Writes the expression back in label syntax that parses to the same expression: atoms quoted
/// where they must be, binary operators parenthesized.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Atom(a) if !a.is_empty() && a.chars().all(is_bare) && !a.contains("->") => {
                f.write_str(a)
            }
            Self::Atom(a) => {
                f.write_str("\"")?;
                for c in a.chars() {
                    if matches!(c, '"' | '\\') {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("\"")
            }
            Self::Not(e) => write!(f, "!{e}"),
            Self::And(a, b) => write!(f, "({a} && {b})"),
            Self::Or(a, b) => write!(f, "({a} || {b})"),
            Self::Implies(a, b) => write!(f, "({a} -> {b})"),
            Self::Iff(a, b) => write!(f, "({a} <-> {b})"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Atom(String),
    Not,
    And,
    Or,
    Implies,
    Iff,
    Open,
    Close,
    End,
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
}

fn is_bare(c: char) -> bool {
    !(c.is_whitespace() || matches!(c, '!' | '&' | '|' | '(' | ')' | '"' | '<' | '>'))
}

impl Lexer<'_> {
    fn error(&self, offset: usize, expected: &'static str) -> ExprError {
        ExprError {
            input: self.input.to_string(),
            offset,
            expected,
        }
    }

    /// The next token and where it starts.
    fn next(&mut self) -> Result<(Token, usize), ExprError> {
        let rest = &self.input[self.pos..];
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
        let start = self.pos;
        let mut chars = trimmed.chars();
        let Some(c) = chars.next() else {
            return Ok((Token::End, start));
        };
        let two = |s: &str| trimmed.starts_with(s);
        let (token, len) = match c {
            '!' => (Token::Not, 1),
            '(' => (Token::Open, 1),
            ')' => (Token::Close, 1),
            '&' if two("&&") => (Token::And, 2),
            '&' => return Err(self.error(start, "\"&&\"")),
            '|' if two("||") => (Token::Or, 2),
            '|' => return Err(self.error(start, "\"||\"")),
            '-' if two("->") => (Token::Implies, 2),
            '<' if two("<->") => (Token::Iff, 3),
            '<' | '>' => return Err(self.error(start, "\"<->\", \"->\" or an atom")),
            '"' => {
                let mut atom = String::new();
                let mut escaped = false;
                let mut end = None;
                for (i, ch) in trimmed.char_indices().skip(1) {
                    match (escaped, ch) {
                        (true, ch) => {
                            atom.push(ch);
                            escaped = false;
                        }
                        (false, '\\') => escaped = true,
                        (false, '"') => {
                            end = Some(i + 1);
                            break;
                        }
                        (false, ch) => atom.push(ch),
                    }
                }
                let len = end.ok_or_else(|| self.error(self.input.len(), "a closing '\"'"))?;
                (Token::Atom(atom), len)
            }
            _ => {
                let mut len = 0;
                for (i, ch) in trimmed.char_indices() {
                    if !is_bare(ch) || (ch == '-' && trimmed[i..].starts_with("->")) {
                        break;
                    }
                    len = i + ch.len_utf8();
                }
                if len == 0 {
                    return Err(self.error(start, "an atom"));
                }
                (Token::Atom(trimmed[..len].to_string()), len)
            }
        };
        self.pos += len;
        Ok((token, start))
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: (Token, usize),
}

impl Parser<'_> {
    fn bump(&mut self) -> Result<(Token, usize), ExprError> {
        let next = self.lexer.next()?;
        Ok(std::mem::replace(&mut self.peeked, next))
    }

    fn binary(
        &mut self,
        op: Token,
        operand: fn(&mut Self) -> Result<Expr, ExprError>,
        make: fn(Box<Expr>, Box<Expr>) -> Expr,
    ) -> Result<Expr, ExprError> {
        let mut left = operand(self)?;
        while self.peeked.0 == op {
            self.bump()?;
            let right = operand(self)?;
            left = make(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn iff(&mut self) -> Result<Expr, ExprError> {
        self.binary(Token::Iff, Self::implies, Expr::Iff)
    }

    fn implies(&mut self) -> Result<Expr, ExprError> {
        self.binary(Token::Implies, Self::or, Expr::Implies)
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        self.binary(Token::Or, Self::and, Expr::Or)
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        self.binary(Token::And, Self::unary, Expr::And)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        match self.bump()? {
            (Token::Not, _) => Ok(Expr::Not(Box::new(self.unary()?))),
            (Token::Atom(a), _) => Ok(Expr::Atom(a)),
            (Token::Open, _) => {
                let inner = self.iff()?;
                match self.bump()? {
                    (Token::Close, _) => Ok(inner),
                    (_, at) => Err(self.lexer.error(at, "')' or an operator")),
                }
            }
            (_, at) => Err(self.lexer.error(at, "an atom, '!' or '('")),
        }
    }
}

impl Expr {
    /// Parses a label expression.
    pub fn parse(input: &str) -> Result<Self, ExprError> {
        let mut lexer = Lexer { input, pos: 0 };
        let first = lexer.next()?;
        let mut p = Parser {
            lexer,
            peeked: first,
        };
        let expr = p.iff()?;
        match &p.peeked {
            (Token::End, _) => Ok(expr),
            (_, at) => Err(p.lexer.error(*at, "an operator or the end")),
        }
    }

    /// Whether the expression holds when exactly the atoms in `has` are true.
    pub fn eval(&self, has: &impl Fn(&str) -> bool) -> bool {
        match self {
            Self::Atom(a) => has(a),
            Self::Not(e) => !e.eval(has),
            Self::And(a, b) => a.eval(has) & b.eval(has),
            Self::Or(a, b) => a.eval(has) | b.eval(has),
            Self::Implies(a, b) => !a.eval(has) | b.eval(has),
            Self::Iff(a, b) => a.eval(has) == b.eval(has),
        }
    }

    /// Every atom of the expression, those under `!` and on both sides of every operator
    /// included (Jenkins' `Label.listAtoms()`).
    pub fn atoms(&self) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        self.collect(&mut out);
        out
    }

    /// Appends every atom (with repeats, in tree order) to `out`, without building a set.
    pub(crate) fn atoms_into<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Self::Atom(a) => out.push(a),
            Self::Not(e) => e.atoms_into(out),
            Self::And(a, b) | Self::Or(a, b) | Self::Implies(a, b) | Self::Iff(a, b) => {
                a.atoms_into(out);
                b.atoms_into(out);
            }
        }
    }

    fn collect<'a>(&'a self, out: &mut BTreeSet<&'a str>) {
        match self {
            Self::Atom(a) => {
                out.insert(a);
            }
            Self::Not(e) => e.collect(out),
            Self::And(a, b) | Self::Or(a, b) | Self::Implies(a, b) | Self::Iff(a, b) => {
                a.collect(out);
                b.collect(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        format!("{:?}", Expr::parse(s).unwrap())
    }

    #[test]
    fn precedence_from_tightest() {
        assert_eq!(p("a || b && c"), r#"("a" || ("b" && "c"))"#);
        assert_eq!(p("!a && b"), r#"(!"a" && "b")"#);
        assert_eq!(p("a -> b || c"), r#"("a" -> ("b" || "c"))"#);
        assert_eq!(p("a <-> b -> c"), r#"("a" <-> ("b" -> "c"))"#);
        assert_eq!(p("a && b && c"), r#"(("a" && "b") && "c")"#);
        assert_eq!(p("a -> b -> c"), r#"(("a" -> "b") -> "c")"#);
        assert_eq!(p("(a || b) && c"), r#"(("a" || "b") && "c")"#);
        assert_eq!(p("!!a"), r#"!!"a""#);
    }

    #[test]
    fn atoms_bare_and_quoted() {
        assert_eq!(p("python-2.4"), r#""python-2.4""#);
        assert_eq!(p("precise->devstack"), r#"("precise" -> "devstack")"#);
        assert_eq!(p(r#""!linux""#), r#""!linux""#);
        assert_eq!(p(r#""a \"b\" c""#), r#""a \"b\" c""#);
        assert_eq!(p("  a&&b  "), r#"("a" && "b")"#);
    }

    #[test]
    fn errors_say_where_and_what() {
        let e = |s: &str| {
            let e = Expr::parse(s).unwrap_err();
            (e.offset, e.expected)
        };
        assert_eq!(e(""), (0, "an atom, '!' or '('"));
        assert_eq!(e("a &"), (2, "\"&&\""));
        assert_eq!(e("a | b"), (2, "\"||\""));
        assert_eq!(e("(a"), (2, "')' or an operator"));
        assert_eq!(e("a b"), (2, "an operator or the end"));
        assert_eq!(e("a &&"), (4, "an atom, '!' or '('"));
        assert_eq!(e("\"open"), (5, "a closing '\"'"));
        assert_eq!(e("a > b"), (2, "\"<->\", \"->\" or an atom"));
        assert_eq!(e(")"), (0, "an atom, '!' or '('"));
    }

    #[test]
    fn evaluation_and_atoms() {
        let node = ["precise", "devstack", "precise-123"];
        let has = |a: &str| node.contains(&a);
        let holds = |s: &str| Expr::parse(s).unwrap().eval(&has);
        assert!(holds("precise && devstack"));
        assert!(holds("precise || oneiric"));
        assert!(!holds("!precise"));
        assert!(holds("!windows"));
        assert!(holds("precise -> devstack"));
        assert!(holds("oneiric -> anything"));
        assert!(!holds("precise -> oneiric"));
        assert!(holds("precise <-> devstack"));
        assert!(holds("oneiric <-> windows"));
        assert!(!holds("precise <-> oneiric"));
        let e = Expr::parse("(precise || oneiric) && !bare").unwrap();
        assert_eq!(
            e.atoms().into_iter().collect::<Vec<_>>(),
            vec!["bare", "oneiric", "precise"]
        );
    }
}
