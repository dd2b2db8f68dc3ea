//! Visible skips: a live half that cannot run says so where a person running `cargo test` sees
//! it, and fails where CI demands the peer.
//!
//! libtest captures what a test prints with `println!`/`eprintln!` and shows it only when the
//! test fails, so a skip announced that way reads as a plain `ok`. [`skip`] writes to the
//! process's standard error itself (`std::io::stderr()`, which the capture does not redirect),
//! so the notice appears among libtest's own lines in every run.

use std::io::Write;

/// Whether CI demands every live peer: `GEARMAN_REQUIRE_GEARMAND` is `1` or `true`. Then a
/// missing gearmand, Debian gearman tool, python `gear`, node `gearman` package or Perl
/// Gearman::Server fails the test instead of skipping it.
pub fn required() -> bool {
    matches!(
        std::env::var("GEARMAN_REQUIRE_GEARMAND").as_deref(),
        Ok("1") | Ok("true")
    )
}

/// Announces that `test` (or part of it) does not run because of `reason` (say what is missing
/// and how to install it). The caller then returns without running that part.
///
/// The notice goes straight to the process's standard error, past libtest's capture, so it is
/// visible in a normal `cargo test` run:
///
/// ```text
/// *** SKIPPED python_gear: python gear is missing (pip install gear==0.16.0); GEARMAN_REQUIRE_GEARMAND=1 makes this a failure ***
/// ```
///
/// # Panics
/// When [`required`] is true: CI demands the peer, so its absence is a failure.
pub fn skip(test: &str, reason: &str) {
    write_notice(&mut std::io::stderr().lock(), test, reason, required());
}

/// The notice for [`skip`] written to `out`, or the panic when `required`.
fn write_notice(out: &mut impl Write, test: &str, reason: &str, required: bool) {
    assert!(
        !required,
        "{test}: {reason} (GEARMAN_REQUIRE_GEARMAND=1 demands it)"
    );
    // A notice that cannot be written has nowhere else to go; the test still skips.
    let _ = writeln!(
        out,
        "\n*** SKIPPED {test}: {reason}; GEARMAN_REQUIRE_GEARMAND=1 makes this a failure ***"
    );
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::write_notice;

    #[test]
    fn a_skip_names_the_test_and_the_reason() {
        let mut out = Vec::new();
        write_notice(&mut out, "t1", "gearmand is not installed", false);
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            "\n*** SKIPPED t1: gearmand is not installed; \
             GEARMAN_REQUIRE_GEARMAND=1 makes this a failure ***\n"
        );
    }

    #[test]
    #[should_panic(expected = "t2: gear is missing (GEARMAN_REQUIRE_GEARMAND=1 demands it)")]
    fn a_required_peer_fails_instead() {
        write_notice(&mut Vec::new(), "t2", "gear is missing", true);
    }
}
