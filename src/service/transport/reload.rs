//! [`Reload`]: the signal to read configuration files again (SIGHUP on unix), one for
//! the whole server. Every reloadable part subscribes and reloads on each change: the
//! TLS certificates (`serve`), and whatever else keeps its configuration in files.

use std::sync::Arc;

use tokio::sync::watch;

/// "Read your files again." Cloning gives another handle to the same signal. A
/// subscriber that is busy while several reloads are asked for reloads once for them.
#[derive(Clone, Debug)]
pub struct Reload {
    tx: Arc<watch::Sender<u64>>,
}

impl Default for Reload {
    fn default() -> Self {
        Reload::new()
    }
}

impl Reload {
    /// A signal that fires only when [`trigger`](Self::trigger)ed.
    pub fn new() -> Reload {
        Reload {
            tx: Arc::new(watch::Sender::new(0)),
        }
    }

    /// Asks every subscriber to reload.
    pub fn trigger(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that sees a change (`changed()`) for each reload asked after now. The
    /// value counts the reloads asked so far.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }

    /// Triggers on every SIGHUP the process receives, from now on, for as long as the
    /// runtime runs. Call within a tokio runtime.
    #[cfg(unix)]
    pub fn on_sighup(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = signal(SignalKind::hangup())?;
        let this = self.clone();
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                tracing::info!("SIGHUP received: reloading");
                this.trigger();
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Reload;

    #[tokio::test]
    async fn every_subscriber_sees_a_trigger() {
        let reload = Reload::new();
        let mut a = reload.subscribe();
        let mut b = reload.clone().subscribe();
        reload.trigger();
        a.changed().await.expect("a change");
        b.changed().await.expect("a change");
        assert_eq!(*a.borrow(), 1);
        assert!(!a.has_changed().expect("open"));
    }
}
