//! Which functions a node's executors register (ci-plugin.md §1.2): pure and exact.

use std::collections::BTreeSet;

use gearman_proto::FunctionName;

use crate::expr::Expr;
use crate::label::{Label, ProjectName};
use crate::naming;

/// Whether a node takes any job or only jobs tied to it by label.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum NodeMode {
    /// Any job it can run.
    #[default]
    Normal,
    /// Only jobs whose label expression names it ("leave this machine for tied jobs only").
    Exclusive,
}

/// What the policy needs to know of a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// Its name, which is also one of its label atoms.
    pub name: Label,
    /// Its labels.
    pub labels: BTreeSet<Label>,
    /// Normal or exclusive.
    pub mode: NodeMode,
    /// Offline nodes register nothing.
    pub online: bool,
}

impl NodeInfo {
    /// Its label atoms: its labels plus its own name.
    pub fn atoms(&self) -> BTreeSet<&Label> {
        self.labels
            .iter()
            .chain(std::iter::once(&self.name))
            .collect()
    }
}

/// What the policy needs to know of a project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectInfo {
    /// Its short name.
    pub name: ProjectName,
    /// Its label expression, if it has one.
    pub label: Option<Expr>,
    /// Disabled projects are skipped.
    pub disabled: bool,
}

/// The functions every executor of `node` registers for `projects`:
/// - an offline node: none;
/// - a disabled project: none;
/// - a project without a label: `build:P`, unless the node is exclusive;
/// - a project whose expression E holds over the node's atoms: `build:P`, and `build:P:a` for
///   every atom `a` of E (negated ones included) that the node has.
pub fn functions_for(node: &NodeInfo, projects: &[ProjectInfo]) -> BTreeSet<FunctionName> {
    let mut out = BTreeSet::new();
    if !node.online {
        return out;
    }
    let atoms = node.atoms();
    let has = |a: &str| atoms.iter().any(|l| l.as_str() == a);
    for p in projects.iter().filter(|p| !p.disabled) {
        match &p.label {
            None if node.mode == NodeMode::Normal => {
                out.insert(naming::build(&p.name));
            }
            None => {}
            Some(expr) if expr.eval(&has) => {
                out.insert(naming::build(&p.name));
                for atom in expr.atoms() {
                    if let Some(label) = atoms.iter().find(|l| l.as_str() == atom) {
                        out.insert(naming::build_on(&p.name, label));
                    }
                }
            }
            Some(_) => {}
        }
    }
    out
}
