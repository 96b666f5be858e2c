//! The runtime's instance slots, shared fairly: every instance holds a slot of the pool while
//! it lives, an invocation waits (first come, first served, within a bound) for a free slot
//! instead of failing at once, and top-level invocations may take only part of the pool so the
//! tools they call always find room.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::error::ToolError;
use crate::limits::Limits;
use crate::runtime::invocation_tree::InvocationTree;

/// The slots of one runtime.
#[derive(Debug)]
pub(crate) struct InstanceSlots {
    pool: Arc<Semaphore>,
    top_level: Arc<Semaphore>,
    max_instances: u32,
    top_level_slots: u32,
    wait: Duration,
}

/// A slot held by one live instance; freed on drop, after the instance's store.
#[derive(Debug)]
pub(crate) struct Slot {
    _pool: OwnedSemaphorePermit,
    _top_level: Option<OwnedSemaphorePermit>,
    _quota: OwnedSemaphorePermit,
}

impl InstanceSlots {
    /// Slots for `limits.max_instances` instances.
    pub(crate) fn new(limits: &Limits) -> InstanceSlots {
        let max_instances = limits.max_instances.max(1);
        // Half the pool for top-level invocations: a caller holding a slot while its callee
        // waits for one can then never fill the pool with callers only.
        let top_level_slots = (max_instances / 2).max(1);
        InstanceSlots {
            pool: Arc::new(Semaphore::new(max_instances as usize)),
            top_level: Arc::new(Semaphore::new(top_level_slots as usize)),
            max_instances,
            top_level_slots,
            wait: limits.instance_wait,
        }
    }

    /// Waits for a slot for an instance of `plugin` in `tree`; `top_level` when the instance
    /// is the tree's root. Fails at once when the tree's quota is used up, and after
    /// [`Limits::instance_wait`] (or the tree's deadline, whichever comes first) when no slot
    /// became free.
    pub(crate) async fn acquire(
        &self,
        tree: &InvocationTree,
        top_level: bool,
        plugin: &str,
    ) -> Result<Slot, ToolError> {
        let quota = tree.take_instance(plugin)?;
        let started = Instant::now();
        let wait_until = (started + self.wait).min(tree.deadline());
        let top = if top_level {
            Some(
                self.wait_for(&self.top_level, wait_until, tree, plugin)
                    .await?,
            )
        } else {
            None
        };
        let pool = self.wait_for(&self.pool, wait_until, tree, plugin).await?;
        Ok(Slot {
            _pool: pool,
            _top_level: top,
            _quota: quota,
        })
    }

    async fn wait_for(
        &self,
        semaphore: &Arc<Semaphore>,
        until: Instant,
        tree: &InvocationTree,
        plugin: &str,
    ) -> Result<OwnedSemaphorePermit, ToolError> {
        if let Ok(permit) = semaphore.clone().try_acquire_owned() {
            return Ok(permit);
        }
        match tokio::time::timeout_at(until, semaphore.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphores are never closed; say so plainly if that ever changes.
            Ok(Err(_)) => Err(ToolError::BackendUnreachable(
                "the runtime's instance slots were closed".into(),
            )),
            Err(_) if until >= tree.deadline() => Err(ToolError::TimedOut(format!(
                "plugin `{plugin}` was still waiting for a free instance slot when its invocation's time ran out; all {} slots were busy, raise Limits::max_instances (CLI --max-instances) or serve fewer invocations at once",
                self.max_instances
            ))),
            Err(_) => Err(ToolError::LimitExceeded(format!(
                "no instance slot became free for plugin `{plugin}` within {:?}: all {} slots were busy ({} of them usable by top-level invocations); raise Limits::max_instances (CLI --max-instances) or Limits::instance_wait (CLI --instance-wait-secs), or serve fewer invocations at once",
                self.wait, self.max_instances, self.top_level_slots
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_instances: u32, wait_ms: u64) -> Limits {
        Limits {
            max_instances,
            instance_wait: Duration::from_millis(wait_ms),
            ..Limits::default()
        }
    }

    #[tokio::test]
    async fn top_level_invocations_leave_room_for_their_callees() {
        let l = limits(4, 50);
        let slots = InstanceSlots::new(&l);
        let trees: Vec<_> = (0..3).map(|_| InvocationTree::new(&l)).collect();
        let a = slots.acquire(&trees[0], true, "p").await.expect("first");
        let _b = slots.acquire(&trees[1], true, "p").await.expect("second");
        let refused = slots
            .acquire(&trees[2], true, "p")
            .await
            .expect_err("half the pool is for top-level invocations");
        assert!(
            matches!(&refused, ToolError::LimitExceeded(t) if t.contains("max_instances")),
            "{refused:?}"
        );
        // The callees of the two running invocations still get slots.
        let _c = slots.acquire(&trees[0], false, "q").await.expect("callee");
        let _d = slots.acquire(&trees[1], false, "q").await.expect("callee");
        drop(a);
        slots
            .acquire(&trees[2], true, "p")
            .await
            .expect("a freed slot goes to the waiting invocation");
    }

    #[tokio::test]
    async fn a_waiting_invocation_gets_the_next_free_slot() {
        let l = limits(2, 5_000);
        let slots = Arc::new(InstanceSlots::new(&l));
        let tree = InvocationTree::new(&l);
        let held = slots.acquire(&tree, true, "p").await.expect("slot");
        let waiter = tokio::spawn({
            let slots = slots.clone();
            let tree = InvocationTree::new(&l);
            async move { slots.acquire(&tree, true, "p").await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "waits instead of failing at once");
        drop(held);
        waiter.await.expect("joins").expect("gets the slot");
    }
}
