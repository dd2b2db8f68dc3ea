//! Properties of the registration plan against a model of gearmand's per-connection ability list.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use gearman_proto::{FunctionName, Request};
use gearman_worker::registration::{fresh, plan};
use gearman_worker::{FunctionSet, Timeout};
use proptest::prelude::*;

/// gearmand's view: CAN_DO twice registers twice (protocol.md §3.9), so the model counts copies.
fn apply(
    mut server: BTreeMap<FunctionName, Vec<Option<u32>>>,
    requests: &[Request],
) -> BTreeMap<FunctionName, Vec<Option<u32>>> {
    for r in requests {
        match r {
            Request::ResetAbilities => server.clear(),
            Request::CanDo(f) => server.entry(f.clone()).or_default().push(None),
            Request::CanDoTimeout {
                function,
                timeout_ms,
            } => server
                .entry(function.clone())
                .or_default()
                .push(Some(*timeout_ms)),
            Request::CantDo(f) => {
                server.remove(f);
            }
            other => panic!("not a registration request: {other:?}"),
        }
    }
    server
}

fn model(set: &FunctionSet) -> BTreeMap<FunctionName, Vec<Option<u32>>> {
    set.iter()
        .map(|(f, t)| (f.clone(), vec![t.map(Timeout::millis)]))
        .collect()
}

fn function_set() -> impl Strategy<Value = FunctionSet> {
    prop::collection::btree_map(
        0u8..12,
        prop::option::of(prop_oneof![Just(1000u32), Just(2500)]),
        0..8,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(i, t)| {
                (
                    FunctionName::try_from(format!("f{i}")).unwrap(),
                    t.and_then(Timeout::from_millis),
                )
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn without_held_jobs_the_plan_reaches_desired(registered in function_set(), desired in function_set()) {
        let p = plan(&registered, &desired, &BTreeSet::new());
        prop_assert_eq!(apply(model(&registered), &p.requests), model(&desired));
        prop_assert_eq!(&p.registered, &desired);
        prop_assert!(p.requests.len() <= fresh(&desired).requests.len());
    }

    #[test]
    fn held_functions_are_never_dropped(
        registered in function_set(),
        desired in function_set(),
        held_mask in prop::collection::vec(any::<bool>(), 12),
    ) {
        let held: BTreeSet<FunctionName> = registered
            .iter()
            .map(|(f, _)| f.clone())
            .filter(|f| held_mask[f.as_bytes()[1..].iter().fold(0usize, |n, d| n * 10 + usize::from(d - b'0'))])
            .collect();
        let p = plan(&registered, &desired, &held);
        let after = apply(model(&registered), &p.requests);
        prop_assert_eq!(&after, &model(&p.registered));
        if !held.is_empty() {
            prop_assert!(!p.requests.contains(&Request::ResetAbilities));
        }
        let before = model(&registered);
        for f in &held {
            prop_assert!(!p.requests.contains(&Request::CantDo(f.clone())), "CANT_DO {f} while held");
            prop_assert_eq!(after.get(f), before.get(f), "held {} changed", f);
        }
        // Everything not held matches what is wanted.
        for (f, t) in desired.iter() {
            if !held.contains(f) {
                prop_assert_eq!(after.get(f).cloned(), Some(vec![t.map(Timeout::millis)]));
            }
        }
        // Once the jobs end, a second plan finishes the job.
        let p2 = plan(&p.registered, &desired, &BTreeSet::new());
        prop_assert_eq!(apply(after, &p2.requests), model(&desired));
    }
}
