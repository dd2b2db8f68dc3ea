//! Registration planning: the packets that bring the server's view of a connection's functions to
//! the wanted set. Pure: no state, no IO.

use std::collections::BTreeSet;

use gearman_proto::{FunctionName, Request};

use crate::function_set::{FunctionSet, Timeout};

/// The packets to send and the server's view once they are sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Requests in order.
    pub requests: Vec<Request>,
    /// What the server will have registered after them.
    pub registered: FunctionSet,
}

fn can_do(function: &FunctionName, timeout: Option<Timeout>) -> Request {
    match timeout {
        Some(t) => Request::CanDoTimeout {
            function: function.clone(),
            timeout_ms: t.millis(),
        },
        None => Request::CanDo(function.clone()),
    }
}

/// The registration of a fresh connection: RESET_ABILITIES, then every function.
pub fn fresh(desired: &FunctionSet) -> Plan {
    let mut requests = Vec::with_capacity(desired.len() + 1);
    requests.push(Request::ResetAbilities);
    requests.extend(desired.iter().map(|(f, t)| can_do(f, t)));
    Plan {
        requests,
        registered: desired.clone(),
    }
}

/// The delta from `registered` (what the server has) to `desired`.
///
/// `held` lists the functions of jobs this connection holds. gearmand re-queues a held job when
/// its connection sends CANT_DO for the job's function or RESET_ABILITIES (protocol.md §3.6), so
/// the job would run twice: while a job is held, its function is neither removed nor re-registered
/// with another timeout, and no RESET_ABILITIES is sent. Those changes stay in the returned view's
/// difference from `desired`, and a later call (once the job has ended) makes them.
///
/// Otherwise: CAN_DO (or CAN_DO_TIMEOUT) for new functions first, so the connection never offers
/// nothing in between, then CANT_DO for dropped ones, then CANT_DO + CAN_DO_TIMEOUT for changed
/// timeouts (one CANT_DO removes every copy). When RESET_ABILITIES plus the whole set is no longer
/// than that, and no job is held, the reset form is used instead.
pub fn plan(
    registered: &FunctionSet,
    desired: &FunctionSet,
    held: &BTreeSet<FunctionName>,
) -> Plan {
    let mut added = Vec::new();
    let mut changed = Vec::new();
    let mut removed: Vec<&FunctionName> = Vec::new();
    // One walk over both sets, which iterate in the same (name) order: no lookup per function.
    let mut old = registered.iter().peekable();
    for (f, t) in desired.iter() {
        while let Some((r, _)) = old.next_if(|(r, _)| *r < f) {
            if !held.contains(r) {
                removed.push(r);
            }
        }
        match old.next_if(|(r, _)| *r == f) {
            None => added.push((f, t)),
            Some((_, was)) if was != t && !held.contains(f) => changed.push((f, t)),
            Some(_) => {}
        }
    }
    removed.extend(old.map(|(r, _)| r).filter(|r| !held.contains(*r)));
    let delta_len = added.len() + removed.len() + 2 * changed.len();
    if delta_len == 0 {
        return Plan {
            requests: Vec::new(),
            registered: registered.clone(),
        };
    }
    // The reset form costs one RESET_ABILITIES plus the whole set.
    if held.is_empty() && desired.len() < delta_len {
        return fresh(desired);
    }
    let mut requests = Vec::with_capacity(delta_len);
    let mut next = registered.clone();
    for (f, t) in added {
        requests.push(can_do(f, t));
        next.insert(f.clone(), t);
    }
    for f in removed {
        requests.push(Request::CantDo(f.clone()));
        next.remove(f);
    }
    for (f, t) in changed {
        requests.push(Request::CantDo(f.clone()));
        requests.push(can_do(f, t));
        next.insert(f.clone(), t);
    }
    Plan {
        requests,
        registered: next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str) -> FunctionName {
        FunctionName::try_from(name).unwrap()
    }

    fn set(names: &[&str]) -> FunctionSet {
        names.iter().map(|n| f(n)).collect()
    }

    fn none() -> BTreeSet<FunctionName> {
        BTreeSet::new()
    }

    #[test]
    fn plugin_examples() {
        // ci-plugin.md §1.3, with our tie-break towards the reset form.
        assert_eq!(
            fresh(&set(&["A", "B"])).requests,
            vec![
                Request::ResetAbilities,
                Request::CanDo(f("A")),
                Request::CanDo(f("B"))
            ]
        );
        assert!(plan(&set(&["A", "B"]), &set(&["A", "B"]), &none())
            .requests
            .is_empty());
        assert_eq!(
            plan(&set(&["A", "B"]), &set(&["B", "C"]), &none()).requests,
            vec![Request::CanDo(f("C")), Request::CantDo(f("A"))]
        );
        assert_eq!(
            plan(&set(&["B", "C"]), &set(&[]), &none()).requests,
            vec![Request::ResetAbilities]
        );
    }

    #[test]
    fn held_functions_are_never_dropped_or_reset() {
        let held: BTreeSet<_> = [f("A")].into();
        let p = plan(&set(&["A", "B", "C"]), &set(&[]), &held);
        assert_eq!(
            p.requests,
            vec![Request::CantDo(f("B")), Request::CantDo(f("C"))]
        );
        assert_eq!(p.registered, set(&["A"]));
        // Once the job ends, the removal goes out.
        let p = plan(&p.registered, &set(&[]), &none());
        assert_eq!(p.requests, vec![Request::ResetAbilities]);
    }

    #[test]
    fn timeout_change_is_remove_then_add() {
        let mut want = set(&["A", "B", "C"]);
        want.insert(f("A"), Timeout::from_millis(1500));
        let p = plan(&set(&["A", "B", "C"]), &want, &none());
        assert_eq!(
            p.requests,
            vec![
                Request::CantDo(f("A")),
                Request::CanDoTimeout {
                    function: f("A"),
                    timeout_ms: 1500
                }
            ]
        );
        let held: BTreeSet<_> = [f("A")].into();
        assert!(plan(&set(&["A", "B", "C"]), &want, &held)
            .requests
            .is_empty());
    }
}
