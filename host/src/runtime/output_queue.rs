//! The queue between a running plugin and the reader of its stream, bounded in bytes: a
//! stream holds at most [`Limits::stream_buffer_bytes`] of unread messages (one larger message
//! alone) before the plugin waits at `emit`, and every unread byte is also charged to the
//! invocation tree, whose budget a plugin may not exceed at all.
//!
//! [`Limits::stream_buffer_bytes`]: crate::Limits::stream_buffer_bytes

use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::{OwnedSemaphorePermit, mpsc};

use crate::byte_budget::ByteBudget;
use crate::contract::ToolInvokeMessage;
use crate::error::ToolError;
use crate::runtime::invocation_tree::{InvocationTree, TreeCharge};

/// What travels from a running plugin to whoever reads its stream.
pub(crate) enum Event {
    /// A message and the budget it holds until it is read.
    Message(ToolInvokeMessage, Charge),
    /// The invocation failed; nothing follows.
    Failed(ToolError),
    /// The invocation finished; nothing follows.
    Finished,
}

/// The bytes an unread message holds; released when the reader takes the message.
pub(crate) struct Charge {
    _stream: OwnedSemaphorePermit,
    _tree: TreeCharge,
}

/// The plugin's end of the queue.
#[derive(Clone)]
pub(crate) struct OutputSender {
    events: mpsc::UnboundedSender<Event>,
    budget: ByteBudget,
    tree: Arc<InvocationTree>,
}

/// The reader's end of the queue.
pub(crate) struct OutputReceiver {
    events: mpsc::UnboundedReceiver<Event>,
}

/// A queue holding at most `stream_bytes` of unread messages, charged to `tree`.
pub(crate) fn output_queue(
    stream_bytes: usize,
    tree: Arc<InvocationTree>,
) -> (OutputSender, OutputReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        OutputSender {
            events: tx,
            budget: ByteBudget::new(stream_bytes),
            tree,
        },
        OutputReceiver { events: rx },
    )
}

impl OutputSender {
    /// Queues `message`, which costs the host `cost` bytes until read: waits while the stream's
    /// budget is used up, and fails when the tree's budget is. `plugin` names the emitter in
    /// errors.
    pub(crate) async fn send(
        &self,
        message: ToolInvokeMessage,
        cost: usize,
        plugin: &str,
    ) -> Result<(), ToolError> {
        let gone = || ToolError::Cancelled("the consumer of this tool's messages went away".into());
        let stream = self.budget.take(cost).await.map_err(|_| gone())?;
        let tree = self.tree.charge(cost, plugin)?;
        self.events
            .send(Event::Message(
                message,
                Charge {
                    _stream: stream,
                    _tree: tree,
                },
            ))
            .map_err(|_| gone())
    }

    /// Ends the stream with `last`; nobody may be left to read it. This sender's share of the
    /// tree is released first, so whatever the tree reports when it ends (the log summary)
    /// comes before the reader learns the invocation is over.
    pub(crate) fn finish(self, last: Event) {
        let OutputSender { events, tree, .. } = self;
        drop(tree);
        let _ = events.send(last);
    }
}

impl OutputReceiver {
    /// The next event, releasing the budget of the message it carries.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.events.poll_recv(cx)
    }
}
