//! A change counter for [`CiHost::changed`](crate::CiHost::changed).

use std::sync::Arc;

use tokio::sync::{watch, Mutex};

/// Counts changes to a host's projects and nodes: [`bump`](Self::bump) on each change;
/// [`changed`](Self::changed) resolves with the new count. All clones share one receiver, so a
/// change between two calls is never missed.
#[derive(Clone, Debug)]
pub struct Generation {
    tx: Arc<watch::Sender<u64>>,
    rx: Arc<Mutex<watch::Receiver<u64>>>,
}

impl Default for Generation {
    fn default() -> Self {
        let (tx, rx) = watch::channel(0);
        Self {
            tx: Arc::new(tx),
            rx: Arc::new(Mutex::new(rx)),
        }
    }
}

impl Generation {
    /// Count 0, nothing changed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Something changed.
    pub fn bump(&self) {
        self.tx.send_modify(|g| *g += 1);
    }

    /// Resolves at the next change not yet seen (at once if one happened since the last call),
    /// with the count.
    pub async fn changed(&self) -> u64 {
        let mut rx = self.rx.lock().await;
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        let g = *rx.borrow_and_update();
        g
    }
}
