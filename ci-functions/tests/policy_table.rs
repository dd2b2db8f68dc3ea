//! The function-set policy on every worked example of ci-plugin.md §1.5, and a property:
//! the set does not depend on the order of the projects.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use ci_functions::{functions_for, Expr, Label, NodeInfo, NodeMode, ProjectInfo, ProjectName};
use proptest::prelude::*;

fn node(name: &str, labels: &[&str], mode: NodeMode, online: bool) -> NodeInfo {
    NodeInfo {
        name: Label::new(name).unwrap(),
        labels: labels.iter().map(|l| Label::new(*l).unwrap()).collect(),
        mode,
        online,
    }
}

fn project(name: &str, label: Option<&str>, disabled: bool) -> ProjectInfo {
    ProjectInfo {
        name: ProjectName::new(name).unwrap(),
        label: label.map(|l| Expr::parse(l).unwrap()),
        disabled,
    }
}

fn names(set: BTreeSet<gearman_proto::FunctionName>) -> Vec<String> {
    set.iter().map(|f| f.to_string()).collect()
}

/// The projects of Example A.
fn example_a_projects() -> Vec<ProjectInfo> {
    vec![
        project("pep8", None, false),
        project("py27", Some("precise"), false),
        project("dsvm", Some("precise && devstack"), false),
        project("docs", Some("precise || oneiric"), false),
        project("win", Some("!precise"), false),
        project("notwin", Some("!windows"), false),
        project("pinned", Some("precise-123"), false),
        project("mixed", Some("(precise || oneiric) && !bare"), false),
        project("imp", Some("precise -> devstack"), false),
        project("ghost", Some("oneiric"), false),
        project("old", Some("precise"), true),
    ]
}

const EXAMPLE_A: &[&str] = &[
    "build:docs",
    "build:docs:precise",
    "build:dsvm",
    "build:dsvm:devstack",
    "build:dsvm:precise",
    "build:imp",
    "build:imp:devstack",
    "build:imp:precise",
    "build:mixed",
    "build:mixed:precise",
    "build:notwin",
    "build:pep8",
    "build:pinned",
    "build:pinned:precise-123",
    "build:py27",
    "build:py27:precise",
];

#[test]
fn example_a_normal_node() {
    let n = node(
        "precise-123",
        &["precise", "devstack"],
        NodeMode::Normal,
        true,
    );
    assert_eq!(names(functions_for(&n, &example_a_projects())), EXAMPLE_A);
}

#[test]
fn example_b_exclusive_node_drops_only_unlabelled_projects() {
    let n = node(
        "precise-123",
        &["precise", "devstack"],
        NodeMode::Exclusive,
        true,
    );
    let want: Vec<&str> = EXAMPLE_A
        .iter()
        .copied()
        .filter(|f| *f != "build:pep8")
        .collect();
    assert_eq!(names(functions_for(&n, &example_a_projects())), want);
}

#[test]
fn example_c_offline_node_registers_nothing() {
    let n = node(
        "precise-123",
        &["precise", "devstack"],
        NodeMode::Normal,
        false,
    );
    assert!(functions_for(&n, &example_a_projects()).is_empty());
}

#[test]
fn example_d_controller_with_its_self_label() {
    let n = node("built-in", &[], NodeMode::Normal, true);
    let projects = vec![
        project("pep8", None, false),
        project("deploy", Some("built-in"), false),
        // A Pipeline job's assigned label is the controller's self label.
        project("lemon", Some("built-in"), false),
    ];
    assert_eq!(
        names(functions_for(&n, &projects)),
        [
            "build:deploy",
            "build:deploy:built-in",
            "build:lemon",
            "build:lemon:built-in",
            "build:pep8"
        ]
    );
}

#[test]
fn example_f_the_plugins_own_vectors() {
    let slave = |mode, online| {
        node(
            "slave0",
            &["ubuntu", "gcc", "python-2.4", "linux"],
            mode,
            online,
        )
    };
    let cases: Vec<(&str, NodeInfo, ProjectInfo, Vec<&str>)> = vec![
        (
            "single label",
            slave(NodeMode::Normal, true),
            project("lemon", Some("linux"), false),
            vec!["build:lemon", "build:lemon:linux"],
        ),
        (
            "invalid label",
            slave(NodeMode::Normal, true),
            project("lemon", Some("bogus"), false),
            vec![],
        ),
        (
            "no label",
            slave(NodeMode::Normal, true),
            project("lemon", None, false),
            vec!["build:lemon"],
        ),
        (
            "no label, exclusive",
            node("slave0", &["foo"], NodeMode::Exclusive, true),
            project("lemon", None, false),
            vec![],
        ),
        (
            "disabled",
            slave(NodeMode::Normal, true),
            project("lemon", Some("linux"), true),
            vec![],
        ),
        (
            "offline",
            slave(NodeMode::Normal, false),
            project("lemon", Some("linux"), false),
            vec![],
        ),
        // `new LabelAtom("!linux")`: a literal atom named "!linux", not a negation.
        (
            "literal !linux atom",
            slave(NodeMode::Normal, true),
            project("lemon", Some("\"!linux\""), false),
            vec![],
        ),
    ];
    for (what, n, p, want) in cases {
        assert_eq!(names(functions_for(&n, &[p])), want, "{what}");
    }
}

#[test]
fn every_operator_and_quoting() {
    let n = node("n1", &["a", "b"], NodeMode::Normal, true);
    let cases: &[(&str, &[&str])] = &[
        ("a && b", &["build:p", "build:p:a", "build:p:b"]),
        ("a && c", &[]),
        ("a || c", &["build:p", "build:p:a"]),
        ("!c", &["build:p"]),
        ("!a", &[]),
        ("c -> a", &["build:p", "build:p:a"]),
        ("a -> c", &[]),
        ("c <-> d", &["build:p"]),
        ("a <-> c", &[]),
        ("a <-> b", &["build:p", "build:p:a", "build:p:b"]),
        ("\"a\"", &["build:p", "build:p:a"]),
        ("(a || c) && !d", &["build:p", "build:p:a"]),
        ("n1", &["build:p", "build:p:n1"]),
        ("c || a && b", &["build:p", "build:p:a", "build:p:b"]),
        ("!a || b", &["build:p", "build:p:a", "build:p:b"]),
    ];
    for (expr, want) in cases {
        let got = names(functions_for(&n, &[project("p", Some(expr), false)]));
        assert_eq!(got, *want, "{expr}");
    }
}

fn arb_project() -> impl Strategy<Value = ProjectInfo> {
    let atom = prop_oneof![
        Just("precise"),
        Just("devstack"),
        Just("oneiric"),
        Just("bare"),
        Just("precise-123")
    ];
    let expr = prop_oneof![
        Just(None),
        atom.clone().prop_map(|a| Some(a.to_string())),
        (atom.clone(), atom.clone()).prop_map(|(a, b)| Some(format!("{a} && !{b}"))),
        (atom.clone(), atom).prop_map(|(a, b)| Some(format!("({a} || {b}) -> {a}"))),
    ];
    ("[a-z]{1,6}", expr, any::<bool>()).prop_map(|(name, label, disabled)| ProjectInfo {
        name: ProjectName::new(name).unwrap(),
        label: label.map(|l| Expr::parse(&l).unwrap()),
        disabled,
    })
}

proptest! {
    #[test]
    fn the_set_does_not_depend_on_project_order(
        mut projects in prop::collection::vec(arb_project(), 0..30),
        exclusive in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mode = if exclusive { NodeMode::Exclusive } else { NodeMode::Normal };
        let n = node("precise-123", &["precise", "devstack"], mode, true);
        let before = functions_for(&n, &projects);
        // A deterministic shuffle driven by `seed`.
        let len = projects.len();
        let mut s = seed | 1;
        for i in (1..len).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            projects.swap(i, (s % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(functions_for(&n, &projects), before);
    }
}
