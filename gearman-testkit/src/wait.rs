//! Waiting for a condition, bounded in time: what live tests do instead of sleeping.

use std::future::Future;
use std::time::Duration;

/// How often the condition is checked.
const POLL: Duration = Duration::from_millis(20);

/// Checks `check` until it holds (true) or `wait` has passed (false).
pub async fn eventually<F, Fut>(wait: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// [`eventually`], failing the test with "timed out waiting for `what`" when it does not hold.
///
/// # Panics
/// When `check` does not hold within `wait`.
pub async fn until<F, Fut>(what: &str, wait: Duration, check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    assert!(
        eventually(wait, check).await,
        "timed out waiting for {what}"
    );
}
