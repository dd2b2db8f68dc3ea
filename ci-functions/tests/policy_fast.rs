//! The fast function-set paths (`functions_for`, `ProjectIndex`, its per-project delta) give
//! exactly the sets of a straightforward reference implementation of the policy, on generated
//! nodes and projects.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use ci_functions::naming;
use ci_functions::{
    functions_for, functions_for_project, Expr, Label, NodeInfo, NodeMode, ProjectIndex,
    ProjectInfo, ProjectName,
};
use gearman_proto::FunctionName;
use proptest::prelude::*;

mod strategies;

/// The policy as written in ci-plugin.md §1.2, with no attention to speed.
fn reference(node: &NodeInfo, projects: &[ProjectInfo]) -> BTreeSet<FunctionName> {
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

const ATOMS: &[&str] = &["a", "b", "c", "gpu", "n1", "n2", "a-b", "x.y"];

fn atom() -> impl Strategy<Value = Expr> {
    prop_oneof![
        4 => prop::sample::select(ATOMS).prop_map(|a| Expr::Atom(a.to_string())),
        // Atoms no node can carry: spaces, ':', quotes, empty.
        1 => prop::sample::select(&["a b", "a:b", "\"q\"", "", "!a"][..])
            .prop_map(|a| Expr::Atom(a.to_string())),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    strategies::expr_over(atom(), 4, 24)
}

fn project() -> impl Strategy<Value = ProjectInfo> {
    // Few names, so that some repeat; some are prefixes of others ("p" and "p-1").
    let name = prop::sample::select(&["p", "p-1", "p1", "q", "q:x", "pp", "p-10"][..]);
    (
        name,
        prop::option::weighted(0.8, expr()),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(name, label, disabled)| ProjectInfo {
            // "q:x" is not a valid project name: it stands for a fresh one.
            name: ProjectName::new(name).unwrap_or_else(|_| ProjectName::new("r").unwrap()),
            label,
            disabled,
        })
}

fn node() -> impl Strategy<Value = NodeInfo> {
    (
        prop::sample::select(&["n1", "n2", "a", "zz"][..]),
        prop::collection::btree_set(prop::sample::select(ATOMS), 0..5),
        any::<bool>(),
        prop::bool::weighted(0.9),
    )
        .prop_map(|(name, labels, exclusive, online)| NodeInfo {
            name: Label::new(name).unwrap(),
            labels: labels.into_iter().map(|l| Label::new(l).unwrap()).collect(),
            mode: if exclusive {
                NodeMode::Exclusive
            } else {
                NodeMode::Normal
            },
            online,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn fast_paths_match_the_reference(
        projects in prop::collection::vec(project(), 0..40),
        nodes in prop::collection::vec(node(), 1..4),
    ) {
        let index = ProjectIndex::new(&projects);
        prop_assert_eq!(index.len(), projects.len());
        for n in &nodes {
            let want = reference(n, &projects);
            prop_assert_eq!(&functions_for(n, &projects), &want);
            prop_assert_eq!(&index.functions_for(n), &want);
            let vec = index.functions_vec(n);
            prop_assert_eq!(vec.iter().cloned().collect::<BTreeSet<_>>(), want.clone());
            prop_assert!(vec.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
            for (i, p) in projects.iter().enumerate() {
                let one = reference(n, std::slice::from_ref(p));
                let fast = functions_for_project(n, p);
                prop_assert_eq!(fast.iter().cloned().collect::<BTreeSet<_>>(), one.clone());
                prop_assert_eq!(index.project_functions(n, i), fast);
            }
        }
    }

    #[test]
    fn one_project_changes_by_delta(
        mut projects in prop::collection::vec(project(), 1..30),
        changed in project(),
        which in any::<prop::sample::Index>(),
        n in node(),
    ) {
        let i = which.index(projects.len());
        let mut index = ProjectIndex::new(&projects);
        let before = reference(&n, &projects);
        let delta = index.delta(&n, i, &changed);
        projects[i] = changed.clone();
        let after = reference(&n, &projects);
        let mut applied = before.clone();
        delta.apply(&mut applied);
        prop_assert_eq!(&applied, &after);
        // Nothing announced that was already there, nothing dropped that was not.
        prop_assert!(delta.added.iter().all(|f| !before.contains(f)));
        prop_assert!(delta.removed.iter().all(|f| before.contains(f)));
        let mut worker_set: gearman_worker::FunctionSet = before.iter().cloned().collect();
        delta.apply_to(&mut worker_set);
        prop_assert_eq!(worker_set, after.iter().cloned().collect());
        index.replace(i, &changed);
        prop_assert_eq!(index.functions_for(&n), after);
        index.push(&changed);
        projects.push(changed);
        prop_assert_eq!(index.functions_for(&n), reference(&n, &projects));
    }
}

#[test]
fn a_large_generated_catalogue_matches_the_reference() {
    let labels = ["trusty", "xenial", "bionic", "devstack", "bare", "gpu"];
    let projects: Vec<ProjectInfo> = (0..2_000)
        .map(|i| {
            let (a, b) = (labels[i % 6], labels[(i / 6) % 6]);
            let label = match i % 5 {
                0 => None,
                1 => Some(a.to_string()),
                2 => Some(format!("{a} && !{b}")),
                3 => Some(format!("({a} || {b}) && !gpu")),
                _ => Some(format!("{a} -> {b}")),
            };
            ProjectInfo {
                // Unsorted names, some prefixes of others.
                name: ProjectName::new(format!("p{}", (i * 7919) % 2_000)).unwrap(),
                label: label.map(|l| Expr::parse(&l).unwrap()),
                disabled: i % 97 == 0,
            }
        })
        .collect();
    let index = ProjectIndex::new(&projects);
    for i in 0..12 {
        let n = NodeInfo {
            name: Label::new(format!("node-{i}")).unwrap(),
            labels: [labels[i % 6], labels[(i / 2) % 6]]
                .iter()
                .map(|l| Label::new(*l).unwrap())
                .collect(),
            mode: if i % 4 == 0 {
                NodeMode::Exclusive
            } else {
                NodeMode::Normal
            },
            online: true,
        };
        let want = reference(&n, &projects);
        assert_eq!(functions_for(&n, &projects), want);
        assert_eq!(index.functions_for(&n), want);
    }
}
