//! The consumer context: notes revoked partitions so the runner drops
//! their state before it reads them again.

use super::progress::Progress;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// Partitions revoked since the runner last looked.
#[derive(Debug, Default, Clone)]
pub(crate) struct Revoked(Arc<Mutex<BTreeSet<i32>>>);

impl Revoked {
    /// Takes the partitions revoked since the last call.
    pub fn take(&self) -> BTreeSet<i32> {
        std::mem::take(&mut *self.0.lock().expect("revoked set poisoned"))
    }
}

/// Consumer context of the pipeline.
#[derive(Debug, Default)]
pub(crate) struct PipelineContext {
    /// Shared with the runner.
    pub revoked: Revoked,
    /// Shared with whoever watches the pipeline: which partitions it holds.
    pub progress: Arc<Progress>,
}

impl ClientContext for PipelineContext {}

impl ConsumerContext for PipelineContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let mut revoked = self.revoked.0.lock().expect("revoked set poisoned");
            self.progress
                .revoke(list.elements().iter().map(|e| e.partition()));
            for element in list.elements() {
                tracing::info!(
                    topic = element.topic(),
                    partition = element.partition(),
                    "partition revoked"
                );
                revoked.insert(element.partition());
            }
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            self.progress
                .assign(list.elements().iter().map(|e| e.partition()));
        }
    }
}
