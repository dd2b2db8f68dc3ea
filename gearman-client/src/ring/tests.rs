//! The ring against libgearman 2.2's choices, and its consistent-hash properties.

use super::*;

const THREE: [&str; 3] = ["10.0.0.1:4730", "10.0.0.2:4730", "10.0.0.3:4730"];

fn uniques(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("unique-{i}")).collect()
}

/// Where each unique goes first, as a server name.
fn placement<'a>(servers: &[&'a str], keys: &[String]) -> Vec<&'a str> {
    let ring = Ring::new(servers);
    keys.iter()
        .map(|k| servers[ring.order(k.as_bytes())[0]])
        .collect()
}

#[test]
fn the_key_is_hashkit_md5_the_first_four_digest_bytes_little_endian() {
    // md5("") = d41d8cd98f00b204e9800998ecf8427e.
    assert_eq!(le_u32(&Md5::digest(b"")[..4]), 0xd98c_1dd4);
}

#[test]
fn server_names_are_hashed_as_libgearman_stores_them() {
    assert_eq!(host_and_port("localhost:4730"), ("localhost", 4730));
    assert_eq!(host_and_port("10.0.0.1:04731"), ("10.0.0.1", 4731));
    assert_eq!(host_and_port("gearman"), ("gearman", 4730));
    assert_eq!(host_and_port("gearman:0"), ("gearman", 4730));
    assert_eq!(host_and_port("[::1]:4731"), ("::1", 4731));
    assert_eq!(host_and_port("[::1]"), ("::1", 4730));
    assert_eq!(host_and_port("::1"), ("::1", 4730));
    // "gearman" and "gearman:4730" are one server to libgearman, and so one ring.
    assert_eq!(Ring::new(&["a", "b"]), Ring::new(&["a:4730", "b:4730"]));
}

/// `(unique, first choice, choice when the first is down)` as libgearman 2.2.0's
/// `server_selection.cc` computes them (vectors published with the `gearman` crate 0.2.0,
/// computed by compiling that file against stub connections).
#[test]
fn agrees_with_libgearman_2_2_including_its_first_fail_over() {
    type Cases = &'static [(&'static str, usize, usize)];
    let fleets: [(&[&str], Cases); 2] = [
        (
            &THREE,
            &[
                ("a", 0, 1),
                ("b", 0, 1),
                ("order-42", 1, 2),
                ("user:1001", 1, 2),
                ("dedupe-me", 2, 0),
                ("x", 1, 2),
                ("unique-7", 2, 0),
                ("job/2026-10-19", 2, 0),
            ],
        ),
        (
            &["localhost:4730", "localhost:4731"],
            &[
                ("a", 1, 0),
                ("b", 0, 1),
                ("order-42", 1, 0),
                ("user:1001", 0, 1),
                ("dedupe-me", 0, 1),
                ("x", 0, 1),
                ("unique-7", 1, 0),
                ("job/2026-10-19", 1, 0),
            ],
        ),
    ];
    for (servers, cases) in fleets {
        let ring = Ring::new(servers);
        for &(unique, first, then) in cases {
            let order = ring.order(unique.as_bytes());
            assert_eq!(&order[..2], &[first, then], "{unique} on {servers:?}");
        }
    }
}

#[test]
fn every_server_appears_once_in_every_order() {
    let ring = Ring::new(&THREE);
    for key in uniques(200) {
        let mut order = ring.order(key.as_bytes());
        order.sort_unstable();
        assert_eq!(order, vec![0, 1, 2], "{key}");
    }
    assert!(Ring::new::<&str>(&[]).order(b"x").is_empty());
    assert_eq!(Ring::new(&["only:4730"]).order(b"x"), vec![0]);
}

#[test]
fn fail_over_follows_the_chain_from_the_failed_server_s_lowest_point() {
    let ring = Ring::new(&THREE);
    for key in uniques(200) {
        let order = ring.order(key.as_bytes());
        assert_eq!(Some(order[1]), ring.after[order[0]], "{key}");
        // The chain's step: walking from the failed server's lowest point, the next other one.
        let lowest = ring
            .points
            .iter()
            .position(|&(_, s)| s == order[0])
            .unwrap();
        let walked = ring.points[lowest..]
            .iter()
            .chain(&ring.points[..lowest])
            .map(|&(_, s)| s)
            .find(|&s| s != order[0]);
        assert_eq!(walked, Some(order[1]), "{key}");
    }
}

#[test]
fn list_order_does_not_matter_for_120_uniques() {
    let keys = uniques(120);
    let want = placement(&THREE, &keys);
    let [a, b, c] = THREE;
    for servers in [[a, c, b], [b, a, c], [b, c, a], [c, a, b], [c, b, a]] {
        assert_eq!(placement(&servers, &keys), want, "{servers:?}");
    }
}

#[test]
fn a_fourth_server_moves_at_most_40_percent_and_only_to_itself() {
    let keys = uniques(120);
    let before = placement(&THREE, &keys);
    let four = [THREE[0], THREE[1], THREE[2], "10.0.0.4:4730"];
    let after = placement(&four, &keys);
    let moved: Vec<_> = before.iter().zip(&after).filter(|(b, a)| b != a).collect();
    assert!(!moved.is_empty(), "the new server takes some keys");
    assert!(
        moved.len() * 100 <= 40 * keys.len(),
        "{} moved",
        moved.len()
    );
    assert!(
        moved.iter().all(|(_, a)| **a == "10.0.0.4:4730"),
        "{moved:?}"
    );
}

#[test]
fn removing_a_server_moves_only_its_own_keys() {
    let keys = uniques(120);
    let before = placement(&THREE, &keys);
    let after = placement(&THREE[..2], &keys);
    for ((k, b), a) in keys.iter().zip(&before).zip(&after) {
        if *b != THREE[2] {
            assert_eq!(a, b, "{k} moved though its server stayed");
        }
    }
}

#[test]
fn keys_spread_over_every_server() {
    let mut counts = [0usize; 3];
    let ring = Ring::new(&THREE);
    for key in uniques(3000) {
        counts[ring.order(key.as_bytes())[0]] += 1;
    }
    assert!(counts.iter().all(|&c| c > 300), "{counts:?}");
}
