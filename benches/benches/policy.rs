//! The function-set policy at scale: 10,000 projects over 100 nodes, and the registration delta
//! when one project changes (ci-functions' policy plus gearman-worker's planner).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashSet};

use ci_functions::{functions_for, Expr, Label, NodeInfo, NodeMode, ProjectInfo, ProjectName};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gearman_worker::registration::plan;
use gearman_worker::FunctionSet;

const LABELS: [&str; 8] = [
    "trusty", "xenial", "bionic", "devstack", "bare", "gpu", "arm64", "large",
];

fn nodes() -> Vec<NodeInfo> {
    (0..100)
        .map(|i| NodeInfo {
            name: Label::new(format!("node-{i:03}")).unwrap(),
            labels: [LABELS[i % 8], LABELS[(i / 8) % 8], LABELS[(i / 3) % 8]]
                .iter()
                .map(|l| Label::new(*l).unwrap())
                .collect(),
            mode: if i % 10 == 0 {
                NodeMode::Exclusive
            } else {
                NodeMode::Normal
            },
            online: true,
        })
        .collect()
}

fn projects() -> Vec<ProjectInfo> {
    (0..10_000)
        .map(|i| {
            let (a, b) = (LABELS[i % 8], LABELS[(i / 8) % 8]);
            let label = match i % 5 {
                0 => None,
                1 => Some(a.to_string()),
                2 => Some(format!("{a} && !{b}")),
                3 => Some(format!("({a} || {b}) && !gpu")),
                _ => Some(format!("{a} -> {b}")),
            };
            ProjectInfo {
                name: ProjectName::new(format!("project-{i:05}")).unwrap(),
                label: label.map(|l| Expr::parse(&l).unwrap()),
                disabled: i % 97 == 0,
            }
        })
        .collect()
}

fn bench_policy(c: &mut Criterion) {
    let nodes = nodes();
    let mut projects = projects();
    let mut g = c.benchmark_group("policy");
    g.sample_size(10);
    g.throughput(Throughput::Elements((nodes.len() * projects.len()) as u64));
    g.bench_function("10k_projects_x_100_nodes", |b| {
        b.iter(|| {
            let total: usize = nodes
                .iter()
                .map(|n| functions_for(n, &projects).len())
                .sum();
            std::hint::black_box(total)
        })
    });
    // One project's label changes: recompute one node's set and plan the delta.
    let node = &nodes[1];
    let before: FunctionSet = functions_for(node, &projects).into_iter().collect();
    projects[1].label = Some(Expr::parse("trusty && xenial").unwrap());
    g.throughput(Throughput::Elements(1));
    g.bench_function("one_project_changes_one_node_delta", |b| {
        b.iter(|| {
            let after: FunctionSet = functions_for(node, &projects).into_iter().collect();
            let p = plan(&before, &after, &BTreeSet::new());
            std::hint::black_box(p.requests.len())
        })
    });
    let after: FunctionSet = functions_for(node, &projects).into_iter().collect();
    let delta = plan(&before, &after, &BTreeSet::new());
    let names: HashSet<String> = delta.requests.iter().map(|r| format!("{r:?}")).collect();
    eprintln!(
        "delta for one changed project: {} requests: {names:?}",
        delta.requests.len()
    );
    g.finish();
}

criterion_group!(benches, bench_policy);
criterion_main!(benches);
