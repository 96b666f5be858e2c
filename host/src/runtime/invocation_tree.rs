//! What a top-level invocation shares with every tool it calls through the local backend: one
//! deadline, one budget of buffered message bytes, one quota of live instances. A plugin's
//! nested calls are charged to the invocation that caused them, so one caller cannot take
//! more than its share of the host by fanning out.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::error::ToolError;
use crate::limits::Limits;
use crate::runtime::job::TreeJobs;
use crate::sandbox::GuestLog;

/// The shared state of one top-level invocation and its nested calls.
pub(crate) struct InvocationTree {
    deadline: Instant,
    buffered: AtomicUsize,
    buffer_limit: usize,
    instances: Arc<Semaphore>,
    instance_quota: u32,
    log: GuestLog,
    jobs: Arc<TreeJobs>,
}

impl InvocationTree {
    /// A tree whose time starts now.
    pub(crate) fn new(limits: &Limits) -> Arc<InvocationTree> {
        let quota = limits.max_instances_per_invocation.max(1);
        Arc::new(InvocationTree {
            deadline: Instant::now() + limits.invocation_timeout,
            buffered: AtomicUsize::new(0),
            buffer_limit: limits.invocation_buffer_bytes,
            instances: Arc::new(Semaphore::new(quota as usize)),
            instance_quota: quota,
            log: GuestLog::new(limits.max_log_bytes),
            jobs: Arc::default(),
        })
    }

    /// The runs of the tree's nested calls, driven by the reader of its top-level stream.
    pub(crate) fn jobs(&self) -> &Arc<TreeJobs> {
        &self.jobs
    }

    /// When the whole invocation, nested calls included, must be over.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Charges `bytes` of buffered messages to the tree until the returned charge is dropped;
    /// fails when the tree's budget would be exceeded. A single message larger than the whole
    /// budget is still admitted into an empty tree, so the budget never refuses what the
    /// per-message limit allows.
    pub(crate) fn charge(
        self: &Arc<Self>,
        bytes: usize,
        plugin: &str,
    ) -> Result<TreeCharge, ToolError> {
        let mut current = self.buffered.load(Ordering::Relaxed);
        loop {
            let next = current.saturating_add(bytes);
            if next > self.buffer_limit && current > 0 {
                return Err(ToolError::LimitExceeded(format!(
                    "plugin `{plugin}` emitted a message of {bytes} bytes while its invocation already buffers {current} bytes of unread messages (its own and those of the tools it called), more than the limit of {} bytes; read the streams of called tools before starting more, or raise Limits::invocation_buffer_bytes (CLI --invocation-buffer-bytes)",
                    self.buffer_limit
                )));
            }
            match self.buffered.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Ok(TreeCharge {
                        tree: self.clone(),
                        bytes,
                    });
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// The log budget every instance of the tree writes its stdout and stderr against; what
    /// was dropped is said once, when the whole invocation is over.
    pub(crate) fn log(&self) -> &GuestLog {
        &self.log
    }

    /// Counts one more live instance against the tree's quota, until the permit is dropped;
    /// fails at once when the quota is used up (waiting could deadlock a tree whose callers
    /// hold the quota while they wait for their callees).
    pub(crate) fn take_instance(&self, plugin: &str) -> Result<OwnedSemaphorePermit, ToolError> {
        self.instances.clone().try_acquire_owned().map_err(|_| {
            ToolError::LimitExceeded(format!(
                "plugin `{plugin}` cannot start: its invocation already has {} instances alive (itself and the tools it calls), the most one invocation may hold; call fewer tools at once, or raise Limits::max_instances_per_invocation (CLI --max-instances-per-invocation)",
                self.instance_quota
            ))
        })
    }

    /// Bytes of messages the tree buffers now.
    #[cfg(test)]
    fn buffered(&self) -> usize {
        self.buffered.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for InvocationTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvocationTree")
            .field("deadline", &self.deadline)
            .field("buffered", &self.buffered)
            .field("instance_quota", &self.instance_quota)
            .finish_non_exhaustive()
    }
}

/// Bytes charged to a tree while a message waits to be read; released on drop.
#[derive(Debug)]
pub(crate) struct TreeCharge {
    tree: Arc<InvocationTree>,
    bytes: usize,
}

impl Drop for TreeCharge {
    fn drop(&mut self) {
        self.tree.buffered.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(buffer: usize, quota: u32) -> Limits {
        Limits {
            invocation_buffer_bytes: buffer,
            max_instances_per_invocation: quota,
            ..Limits::default()
        }
    }

    #[tokio::test]
    async fn charges_are_bounded_and_released() {
        let tree = InvocationTree::new(&limits(100, 4));
        let a = tree.charge(60, "p").expect("fits");
        let b = tree.charge(40, "p").expect("fits exactly");
        let refused = tree.charge(1, "p").expect_err("over the budget");
        assert!(
            matches!(&refused, ToolError::LimitExceeded(t) if t.contains("invocation_buffer_bytes")),
            "{refused:?}"
        );
        drop(a);
        assert_eq!(tree.buffered(), 40);
        let _c = tree.charge(60, "p").expect("room again");
        drop(b);
        assert_eq!(tree.buffered(), 60);
    }

    #[tokio::test]
    async fn one_message_larger_than_the_budget_fits_an_empty_tree() {
        let tree = InvocationTree::new(&limits(100, 4));
        let big = tree.charge(500, "p").expect("alone");
        assert!(tree.charge(1, "p").is_err());
        drop(big);
        assert_eq!(tree.buffered(), 0);
    }

    #[tokio::test]
    async fn the_instance_quota_refuses_at_once_and_frees_on_drop() {
        let tree = InvocationTree::new(&limits(100, 2));
        let a = tree.take_instance("p").expect("first");
        let _b = tree.take_instance("p").expect("second");
        let refused = tree.take_instance("p").expect_err("quota used up");
        assert!(
            matches!(&refused, ToolError::LimitExceeded(t) if t.contains("max_instances_per_invocation")),
            "{refused:?}"
        );
        drop(a);
        let _again = tree.take_instance("p").expect("freed");
    }
}
