//! The function-set policy at scale: 10,000 projects over 100 nodes, and the registration delta
//! when one project changes (ci-functions' policy plus gearman-worker's planner).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashSet};

use ci_functions::{
    functions_for, Expr, Label, NodeInfo, NodeMode, ProjectIndex, ProjectInfo, ProjectName,
};
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
    // The free function, from the projects as the host lists them.
    g.bench_function("10k_projects_x_100_nodes", |b| {
        b.iter(|| {
            let total: usize = nodes
                .iter()
                .map(|n| functions_for(n, &projects).len())
                .sum();
            std::hint::black_box(total)
        })
    });
    // The index, built inside the timing: what one refresh of all nodes costs.
    g.bench_function("10k_projects_x_100_nodes_index", |b| {
        b.iter(|| {
            let index = ProjectIndex::new(&projects);
            let total: usize = nodes.iter().map(|n| index.functions_for(n).len()).sum();
            std::hint::black_box(total)
        })
    });
    let index = ProjectIndex::new(&projects);
    g.bench_function("10k_projects_x_100_nodes_index_prebuilt", |b| {
        b.iter(|| {
            let total: usize = nodes.iter().map(|n| index.functions_for(n).len()).sum();
            std::hint::black_box(total)
        })
    });
    g.throughput(Throughput::Elements(projects.len() as u64));
    g.bench_function("index_build_10k_projects", |b| {
        b.iter(|| std::hint::black_box(ProjectIndex::new(&projects).len()))
    });
    // One project's label changes: recompute one node's set and plan the delta.
    let node = &nodes[1];
    let before: FunctionSet = functions_for(node, &projects).into_iter().collect();
    let changed = ProjectInfo {
        label: Some(Expr::parse("trusty && xenial").unwrap()),
        ..projects[1].clone()
    };
    g.throughput(Throughput::Elements(1));
    // Every project again (the free function), then the planner over both whole sets.
    let old = std::mem::replace(&mut projects[1], changed.clone());
    g.bench_function("one_project_changes_one_node_delta", |b| {
        b.iter(|| {
            let after: FunctionSet = functions_for(node, &projects).into_iter().collect();
            let p = plan(&before, &after, &BTreeSet::new());
            std::hint::black_box(p.requests.len())
        })
    });
    projects[1] = old;
    // Only the changed project (the index's delta), applied to a copy of the set, then the
    // same planner.
    g.bench_function("one_project_changes_one_node_delta_index", |b| {
        b.iter(|| {
            let delta = index.delta(node, 1, &changed);
            let mut after = before.clone();
            delta.apply_to(&mut after);
            let p = plan(&before, &after, &BTreeSet::new());
            std::hint::black_box(p.requests.len())
        })
    });
    // The delta alone, without the planner's pass over the whole set.
    g.bench_function("one_project_changes_one_node_delta_only", |b| {
        b.iter(|| std::hint::black_box(index.delta(node, 1, &changed)))
    });
    projects[1] = changed.clone();
    let after: FunctionSet = functions_for(node, &projects).into_iter().collect();
    let delta = plan(&before, &after, &BTreeSet::new());
    let names: HashSet<String> = delta.requests.iter().map(|r| format!("{r:?}")).collect();
    eprintln!(
        "delta for one changed project: {} requests: {names:?}",
        delta.requests.len()
    );
    let fast = index.delta(node, 1, &changed);
    let mut fast_after = before.clone();
    fast.apply_to(&mut fast_after);
    assert_eq!(fast_after, after, "the index's delta gives the same set");
    g.finish();
}

criterion_group!(benches, bench_policy);
criterion_main!(benches);
