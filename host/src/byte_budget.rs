//! A budget of bytes shared by the producers of one queue: a producer takes a message's bytes
//! before queueing it and the consumer gives them back by dropping the permit. A message larger
//! than the whole budget takes all of it, so it waits for an empty queue and then goes alone.

use std::sync::Arc;

use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// Bytes that may wait in one queue.
#[derive(Debug, Clone)]
pub(crate) struct ByteBudget {
    bytes: Arc<Semaphore>,
    total: u32,
}

impl ByteBudget {
    /// A budget of `bytes` (at least one; at most what a semaphore counts).
    pub(crate) fn new(bytes: usize) -> ByteBudget {
        let total = u32::try_from(bytes.max(1))
            .unwrap_or(u32::MAX)
            .min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
        ByteBudget {
            bytes: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    fn share(&self, bytes: usize) -> u32 {
        u32::try_from(bytes.max(1))
            .unwrap_or(u32::MAX)
            .min(self.total)
    }

    /// Waits until `bytes` fit, then holds them until the permit is dropped.
    pub(crate) async fn take(&self, bytes: usize) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.bytes
            .clone()
            .acquire_many_owned(self.share(bytes))
            .await
    }

    /// Holds `bytes` when they fit now.
    pub(crate) fn try_take(&self, bytes: usize) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.bytes.clone().try_acquire_many_owned(self.share(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_come_back_when_the_permit_is_dropped() {
        let budget = ByteBudget::new(10);
        let a = budget.take(6).await.expect("fits");
        assert!(budget.try_take(5).is_err());
        let _b = budget.try_take(4).expect("fits exactly");
        drop(a);
        let _again = budget.try_take(6).expect("room again");
    }

    #[tokio::test]
    async fn a_message_larger_than_the_budget_goes_alone() {
        let budget = ByteBudget::new(10);
        let big = budget.take(1 << 40).await.expect("takes it all");
        assert!(budget.try_take(1).is_err());
        drop(big);
        let _all = budget.try_take(10).expect("all free");
    }
}
