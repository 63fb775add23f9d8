//! Tail hub: fans accepted entries out to live-tail subscribers.
//!
//! The push path only matches stream labels and does a non-blocking `try_send`; a slow
//! subscriber loses entries (reported as `dropped_entries`), never slows a push.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;

use crate::index::{CompiledMatcher, StreamMeta};
use crate::model::{Entry, Nanos};

/// Entries of one stream accepted by one push.
#[derive(Clone, Debug)]
pub struct TailEvent {
    pub stream: Arc<StreamMeta>,
    pub entries: Arc<Vec<Entry>>,
}

/// An entry a subscriber missed because its queue was full.
#[derive(Clone, Debug)]
pub struct Dropped {
    pub stream: Arc<StreamMeta>,
    pub ts: Nanos,
}

/// Most dropped entries remembered per subscriber (Loki reports up to 1000).
pub const MAX_DROPPED: usize = 1000;
/// Queue length per subscriber, in push events.
const QUEUE: usize = 256;

struct Subscriber {
    id: u64,
    tenant: String,
    matchers: Vec<CompiledMatcher>,
    tx: mpsc::Sender<TailEvent>,
    dropped: Arc<Mutex<Vec<Dropped>>>,
}

/// A live subscription; dropping it unsubscribes.
pub struct Subscription {
    pub rx: mpsc::Receiver<TailEvent>,
    pub dropped: Arc<Mutex<Vec<Dropped>>>,
    id: u64,
    hub: Arc<Hub>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.subs.write().retain(|s| s.id != self.id);
    }
}

#[derive(Default)]
pub struct Hub {
    subs: RwLock<Vec<Subscriber>>,
    next_id: AtomicU64,
}

impl Hub {
    pub fn subscribe(self: &Arc<Self>, tenant: &str, matchers: Vec<CompiledMatcher>) -> Subscription {
        let (tx, rx) = mpsc::channel(QUEUE);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let dropped = Arc::new(Mutex::new(Vec::new()));
        self.subs.write().push(Subscriber {
            id,
            tenant: tenant.to_string(),
            matchers,
            tx,
            dropped: Arc::clone(&dropped),
        });
        Subscription { rx, dropped, id, hub: Arc::clone(self) }
    }

    pub fn active(&self) -> usize {
        self.subs.read().len()
    }

    /// Called by the ingester after a successful write.
    pub fn publish(&self, tenant: &str, events: &[TailEvent]) {
        let subs = self.subs.read();
        for sub in subs.iter().filter(|s| s.tenant == tenant) {
            for ev in events {
                let labels = &ev.stream.labels;
                if !sub.matchers.iter().all(|m| m.matches(labels.get(&m.name).unwrap_or(""))) {
                    continue;
                }
                if let Err(mpsc::error::TrySendError::Full(ev)) = sub.tx.try_send(ev.clone()) {
                    let mut d = sub.dropped.lock();
                    for e in ev.entries.iter() {
                        if d.len() >= MAX_DROPPED {
                            break;
                        }
                        d.push(Dropped { stream: Arc::clone(&ev.stream), ts: e.ts });
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;

    fn event(n: usize) -> TailEvent {
        let labels = Labels::from_pairs(vec![("app".into(), "x".into())]);
        TailEvent {
            stream: Arc::new(StreamMeta { id: 1, tenant: "fake".into(), key: labels.to_string(), labels }),
            entries: Arc::new((0..n).map(|i| Entry { ts: i as i64, line: "l".into(), metadata: vec![] }).collect()),
        }
    }

    #[test]
    fn a_slow_subscriber_loses_entries_but_never_blocks_publish() {
        let hub = Arc::new(Hub::default());
        let sub = hub.subscribe("fake", vec![]);
        let other_tenant = hub.subscribe("other", vec![]);
        // The subscriber never reads: publishing far more than its queue must return at once.
        for _ in 0..QUEUE + 10 {
            hub.publish("fake", &[event(2)]);
        }
        assert_eq!(sub.rx.len(), QUEUE);
        assert_eq!(sub.dropped.lock().len(), 20, "two entries per overflowing event are reported");
        assert_eq!(other_tenant.rx.len(), 0, "tenants never see each other's entries");
        drop(sub);
        assert_eq!(hub.active(), 1, "dropping a subscription unsubscribes");
    }
}
