//! [`Shutdown`]: the "stop now" signal of a server (SIGTERM and SIGINT in `serve`).
//! The first request starts the drain; a second one cuts its grace period short.

use std::sync::Arc;

use tokio::sync::watch;

/// Asks a running server to stop. Cloning gives another handle to the same signal.
#[derive(Clone, Debug)]
pub struct Shutdown {
    tx: Arc<watch::Sender<u32>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    /// A signal that fires only when [`request`](Self::request)ed.
    pub fn new() -> Shutdown {
        Shutdown {
            tx: Arc::new(watch::Sender::new(0)),
        }
    }

    /// A signal requested once when `first` resolves. Call within a tokio runtime.
    pub fn when(first: impl std::future::Future<Output = ()> + Send + 'static) -> Shutdown {
        let shutdown = Shutdown::new();
        let handle = shutdown.clone();
        tokio::spawn(async move {
            first.await;
            handle.request();
        });
        shutdown
    }

    /// Asks the server to stop: the first request drains it, the second stops waiting
    /// for the connections still open.
    pub fn request(&self) {
        self.tx.send_modify(|n| *n = n.saturating_add(1));
    }

    /// How many stops have been asked for.
    pub fn requests(&self) -> u32 {
        *self.tx.borrow()
    }

    /// Resolves once at least `n` stops have been asked for.
    pub async fn requested(&self, n: u32) {
        let mut rx = self.tx.subscribe();
        // The sender lives as long as `self`: waiting cannot fail.
        let _ = rx.wait_for(|asked| *asked >= n).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_second_request_is_told_from_the_first() {
        let shutdown = Shutdown::new();
        let second = tokio::spawn({
            let s = shutdown.clone();
            async move { s.requested(2).await }
        });
        shutdown.request();
        shutdown.requested(1).await;
        assert_eq!(shutdown.requests(), 1);
        assert!(!second.is_finished());
        shutdown.request();
        second.await.expect("the waiter ends");
        assert_eq!(shutdown.requests(), 2);
    }
}
