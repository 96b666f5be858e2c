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
use crate::runtime::deadline::Deadline;
use crate::runtime::job::TreeJobs;
use crate::sandbox::GuestLog;

/// The shared state of one top-level invocation and its nested calls.
pub(crate) struct InvocationTree {
    deadline: Deadline,
    buffer: Arc<BufferBudget>,
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
            deadline: Deadline::new(Instant::now() + limits.invocation_timeout),
            buffer: Arc::new(BufferBudget {
                used: AtomicUsize::new(0),
                limit: limits.invocation_buffer_bytes,
            }),
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
        self.deadline.instant()
    }

    /// The same deadline, for checks cheap enough to make at every message.
    pub(crate) fn deadline_check(&self) -> Deadline {
        self.deadline
    }

    /// The budget of the tree's buffered message bytes. The streams of the tree hold it, not
    /// the tree: a stream read after its run ended does not keep the tree (and the report it
    /// gives when it ends) alive.
    pub(crate) fn buffer(&self) -> &Arc<BufferBudget> {
        &self.buffer
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
        self.buffer.used.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for InvocationTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvocationTree")
            .field("deadline", &self.deadline)
            .field("buffered", &self.buffer.used)
            .field("instance_quota", &self.instance_quota)
            .finish_non_exhaustive()
    }
}

/// The bytes of unread messages a tree may buffer, across all its streams.
#[derive(Debug)]
pub(crate) struct BufferBudget {
    used: AtomicUsize,
    limit: usize,
}

impl BufferBudget {
    /// Takes `bytes` of the budget for a buffered message until [`BufferBudget::release`];
    /// fails when the budget would be exceeded. A single message larger than the whole budget
    /// is still admitted into an empty tree, so the budget never refuses what the per-message
    /// limit allows.
    pub(crate) fn reserve(&self, bytes: usize, plugin: &str) -> Result<(), ToolError> {
        let mut current = self.used.load(Ordering::Relaxed);
        loop {
            let next = current.saturating_add(bytes);
            if next > self.limit && current > 0 {
                return Err(ToolError::LimitExceeded(format!(
                    "plugin `{plugin}` emitted a message of {bytes} bytes while its invocation already buffers {current} bytes of unread messages (its own and those of the tools it called), more than the limit of {} bytes; read the streams of called tools before starting more, or raise Limits::invocation_buffer_bytes (CLI --invocation-buffer-bytes)",
                    self.limit
                )));
            }
            match self.used.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => current = actual,
            }
        }
    }

    /// Gives back what [`BufferBudget::reserve`] took, once the message is read or dropped.
    pub(crate) fn release(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
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
        let budget = tree.buffer();
        budget.reserve(60, "p").expect("fits");
        budget.reserve(40, "p").expect("fits exactly");
        let refused = budget.reserve(1, "p").expect_err("over the budget");
        assert!(
            matches!(&refused, ToolError::LimitExceeded(t) if t.contains("invocation_buffer_bytes")),
            "{refused:?}"
        );
        budget.release(60);
        assert_eq!(tree.buffered(), 40);
        budget.reserve(60, "p").expect("room again");
        budget.release(40);
        assert_eq!(tree.buffered(), 60);
    }

    #[tokio::test]
    async fn one_message_larger_than_the_budget_fits_an_empty_tree() {
        let tree = InvocationTree::new(&limits(100, 4));
        let budget = tree.buffer();
        budget.reserve(500, "p").expect("alone");
        assert!(budget.reserve(1, "p").is_err());
        budget.release(500);
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
