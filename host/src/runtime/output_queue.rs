//! The queue between a running plugin and the reader of its stream, bounded in bytes: a
//! stream holds at most [`Limits::stream_buffer_bytes`] of unread messages (one larger message
//! alone) before the plugin waits at `emit`, and every unread byte is also charged to the
//! invocation tree, whose budget a plugin may not exceed at all.
//!
//! Both ends are normally used by one task (the reader polls the plugin inline), so the queue
//! is a plain deque under a lock that is never contended, and each end registers a waker only
//! when it is about to wait: a plugin emitting while its reader polls it wakes nobody.
//!
//! [`Limits::stream_buffer_bytes`]: crate::Limits::stream_buffer_bytes

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

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

/// The bytes an unread message holds in the tree's budget; released when the reader drops
/// the message's event. (The stream's own budget is given back when the event is taken.)
pub(crate) struct Charge {
    _tree: Option<TreeCharge>,
    stream_bytes: usize,
}

struct State {
    events: VecDeque<Event>,
    /// Bytes of the unread messages, against `limit`.
    unread: usize,
    limit: usize,
    /// The reader, when it waits for an event.
    reader: Option<Waker>,
    /// The plugin, when it waits for room.
    writer: Option<Waker>,
    reader_gone: bool,
}

struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held left a consistent deque behind: go on with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The plugin's end of the queue.
#[derive(Clone)]
pub(crate) struct OutputSender {
    shared: Arc<Shared>,
    tree: Arc<InvocationTree>,
}

/// The reader's end of the queue.
pub(crate) struct OutputReceiver {
    shared: Arc<Shared>,
}

/// A queue holding at most `stream_bytes` of unread messages, charged to `tree`.
pub(crate) fn output_queue(
    stream_bytes: usize,
    tree: Arc<InvocationTree>,
) -> (OutputSender, OutputReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            events: VecDeque::new(),
            unread: 0,
            limit: stream_bytes.max(1),
            reader: None,
            writer: None,
            reader_gone: false,
        }),
    });
    (
        OutputSender {
            shared: shared.clone(),
            tree,
        },
        OutputReceiver { shared },
    )
}

fn gone() -> ToolError {
    ToolError::Cancelled("the consumer of this tool's messages went away".into())
}

impl OutputSender {
    /// Queues `message`, which costs the host `cost` bytes until read: waits while the stream's
    /// budget is used up, and fails when the tree's budget is. `plugin` names the emitter in
    /// errors.
    pub(crate) async fn send(
        &self,
        mut message: ToolInvokeMessage,
        cost: usize,
        plugin: &str,
    ) -> Result<(), ToolError> {
        loop {
            match self.try_send(message, cost, plugin)? {
                None => return Ok(()),
                Some(back) => message = back,
            }
            // Wait until the reader has made room (or gone), then try again.
            std::future::poll_fn(|cx| {
                let mut state = self.shared.lock();
                if !state.reader_gone
                    && state.unread > 0
                    && state.unread.saturating_add(cost) > state.limit
                {
                    state.writer = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                Poll::Ready(())
            })
            .await;
        }
    }

    /// Queues `message` at once when the stream has room for it; gives it back when the plugin
    /// must wait for its reader ([`OutputSender::send`] then waits). Fails when the tree's
    /// budget is used up or the reader is gone.
    pub(crate) fn try_send(
        &self,
        message: ToolInvokeMessage,
        cost: usize,
        plugin: &str,
    ) -> Result<Option<ToolInvokeMessage>, ToolError> {
        let reader = {
            let mut state = self.shared.lock();
            if state.reader_gone {
                return Err(gone());
            }
            if state.unread > 0 && state.unread.saturating_add(cost) > state.limit {
                return Ok(Some(message));
            }
            // The tree's charge is one atomic update: taken under the lock, it keeps the
            // common case to one lock per message.
            let tree = if cost > 0 {
                Some(self.tree.charge(cost, plugin)?)
            } else {
                None
            };
            state.unread = state.unread.saturating_add(cost);
            state.events.push_back(Event::Message(
                message,
                Charge {
                    _tree: tree,
                    stream_bytes: cost,
                },
            ));
            state.reader.take()
        };
        if let Some(reader) = reader {
            reader.wake();
        }
        Ok(None)
    }

    /// Ends the stream with `last`; nobody may be left to read it. This sender's share of the
    /// tree is released first, so whatever the tree reports when it ends (the log summary)
    /// comes before the reader learns the invocation is over.
    pub(crate) fn finish(self, last: Event) {
        let OutputSender { shared, tree } = self;
        drop(tree);
        let reader = {
            let mut state = shared.lock();
            state.events.push_back(last);
            state.reader.take()
        };
        if let Some(reader) = reader {
            reader.wake();
        }
    }
}

impl OutputReceiver {
    /// The next event if one is queued, giving its bytes back to the stream's budget (the
    /// tree's charge goes with the event).
    pub(crate) fn try_recv(&self) -> Option<Event> {
        let (event, writer) = {
            let mut state = self.shared.lock();
            let event = state.events.pop_front()?;
            if let Event::Message(_, charge) = &event {
                state.unread = state.unread.saturating_sub(charge.stream_bytes);
            }
            (event, state.writer.take())
        };
        if let Some(writer) = writer {
            writer.wake();
        }
        Some(event)
    }

    /// Waits for the next event: registers `waker` unless one is queued already (then it is
    /// returned instead).
    pub(crate) fn recv_or_register(&self, waker: &Waker) -> Option<Event> {
        {
            let mut state = self.shared.lock();
            if state.events.is_empty() {
                match &state.reader {
                    Some(w) if w.will_wake(waker) => {}
                    _ => state.reader = Some(waker.clone()),
                }
                return None;
            }
        }
        self.try_recv()
    }
}

impl Drop for OutputReceiver {
    fn drop(&mut self) {
        let writer = {
            let mut state = self.shared.lock();
            state.reader_gone = true;
            // Unread messages give their bytes back to the tree now.
            state.events.clear();
            state.writer.take()
        };
        if let Some(writer) = writer {
            writer.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::ToolInvokeMessage;
    use crate::limits::Limits;
    use futures::FutureExt;

    fn text(t: &str) -> ToolInvokeMessage {
        ToolInvokeMessage {
            payload: crate::contract::MessagePayload::Text(t.into()),
            meta: None,
        }
    }

    #[tokio::test]
    async fn the_plugin_waits_for_room_and_a_large_message_goes_alone() {
        let tree = InvocationTree::new(&Limits::default());
        let (tx, rx) = output_queue(10, tree);
        tx.send(text("a"), 6, "p").await.expect("fits");
        assert!(
            tx.send(text("b"), 5, "p").now_or_never().is_none(),
            "waits: 6 + 5 > 10"
        );
        assert!(matches!(rx.try_recv(), Some(Event::Message(..))));
        tx.send(text("big"), 100, "p")
            .now_or_never()
            .expect("an empty queue takes a message larger than the budget")
            .expect("queued");
        assert!(tx.send(text("c"), 1, "p").now_or_never().is_none());
        assert!(matches!(rx.try_recv(), Some(Event::Message(..))));
        assert!(rx.try_recv().is_none());
    }

    #[tokio::test]
    async fn a_gone_reader_cancels_the_plugin() {
        let tree = InvocationTree::new(&Limits::default());
        let (tx, rx) = output_queue(10, tree);
        drop(rx);
        let refused = tx.send(text("a"), 1, "p").await.expect_err("nobody reads");
        assert!(matches!(refused, ToolError::Cancelled(_)), "{refused:?}");
    }
}
