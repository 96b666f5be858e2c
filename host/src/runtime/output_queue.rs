//! The queue between a running plugin and the reader of its stream, bounded in bytes: a
//! stream holds at most [`Limits::stream_buffer_bytes`] of unread messages (one larger message
//! alone) before the plugin waits at `emit`, and every unread byte is also charged to the
//! invocation tree, whose budget a plugin may not exceed at all.
//!
//! Both ends are normally used by one task (the reader polls the plugin inline), so the queue
//! is a plain deque under a lock that is never contended, and each end registers a waker only
//! when it is about to wait: a plugin emitting while its reader polls it wakes nobody. The
//! reader takes everything queued at once and hands it out without the lock; the bytes it has
//! not handed out yet still count against both budgets, so the bounds are unchanged. (What it
//! handed out is given back to the stream's budget the next time it takes the lock, which is
//! also when it wakes a plugin waiting for room.)
//!
//! [`Limits::stream_buffer_bytes`]: crate::Limits::stream_buffer_bytes

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use crate::contract::ToolInvokeMessage;
use crate::error::ToolError;
use crate::runtime::invocation_tree::BufferBudget;

/// What travels from a running plugin to whoever reads its stream.
pub(crate) enum Event {
    /// A message, and the bytes it holds in the stream's and the tree's budgets until the
    /// reader takes it.
    Message(ToolInvokeMessage, usize),
    /// The invocation failed; nothing follows.
    Failed(ToolError),
    /// The invocation finished; nothing follows.
    Finished,
}

impl Event {
    fn bytes(&self) -> usize {
        match self {
            Event::Message(_, bytes) => *bytes,
            _ => 0,
        }
    }
}

struct State {
    events: VecDeque<Event>,
    /// Bytes of the messages queued and not yet given back by the reader, against `limit`.
    unread: usize,
    limit: usize,
    /// Messages queued so far, read or not.
    queued: u64,
    /// The reader, when it waits for an event.
    reader: Option<Waker>,
    /// The plugin, when it waits for room.
    writer: Option<Waker>,
    reader_gone: bool,
}

struct Shared {
    state: Mutex<State>,
    /// The tree's budget, which every unread byte is charged to as well.
    tree: Arc<BufferBudget>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held left a consistent deque behind: go on with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Whether a message costing `cost` must wait for the reader: the stream holds unread
    /// bytes and would exceed its budget (a message larger than the budget goes alone).
    fn full_for(&self, cost: usize) -> bool {
        self.unread > 0 && self.unread.saturating_add(cost) > self.limit
    }
}

/// The plugin's end of the queue.
#[derive(Clone)]
pub(crate) struct OutputSender {
    shared: Arc<Shared>,
}

/// The reader's end of the queue.
pub(crate) struct OutputReceiver {
    shared: Arc<Shared>,
    /// Events taken from the queue in one go, handed out one by one without the lock.
    taken: VecDeque<Event>,
    /// Bytes of the messages handed out since the reader last took the lock.
    handed_out: usize,
}

/// A queue holding at most `stream_bytes` of unread messages, charged to `tree` as well.
pub(crate) fn output_queue(
    stream_bytes: usize,
    tree: Arc<BufferBudget>,
) -> (OutputSender, OutputReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            events: VecDeque::new(),
            unread: 0,
            limit: stream_bytes.max(1),
            queued: 0,
            reader: None,
            writer: None,
            reader_gone: false,
        }),
        tree,
    });
    (
        OutputSender {
            shared: shared.clone(),
        },
        OutputReceiver {
            shared,
            taken: VecDeque::new(),
            handed_out: 0,
        },
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
                if !state.reader_gone && state.full_for(cost) {
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
        let shared = &*self.shared;
        let reader = {
            let mut state = shared.lock();
            if state.reader_gone {
                return Err(gone());
            }
            if state.full_for(cost) {
                return Ok(Some(message));
            }
            // Taken under the lock, so that the reader's release (which follows the queueing)
            // can never come first.
            if cost > 0 {
                shared.tree.reserve(cost, plugin)?;
            }
            state.unread = state.unread.saturating_add(cost);
            state.queued += 1;
            state.events.push_back(Event::Message(message, cost));
            state.reader.take()
        };
        if let Some(reader) = reader {
            reader.wake();
        }
        Ok(None)
    }

    /// Ends the stream with `last`; nobody may be left to read it.
    pub(crate) fn finish(self, last: Event) {
        let reader = {
            let mut state = self.shared.lock();
            state.events.push_back(last);
            state.reader.take()
        };
        if let Some(reader) = reader {
            reader.wake();
        }
    }
}

impl OutputReceiver {
    /// Messages the plugin has queued so far, read or not.
    pub(crate) fn messages_queued(&self) -> u64 {
        self.shared.lock().queued
    }

    /// The next event if one is queued, giving its bytes back to both budgets.
    pub(crate) fn try_recv(&mut self) -> Option<Event> {
        if self.taken.is_empty() {
            self.take_queued(None);
        }
        self.hand_out()
    }

    /// Waits for the next event: registers `waker` unless one is queued already (then it is
    /// returned instead).
    pub(crate) fn recv_or_register(&mut self, waker: &Waker) -> Option<Event> {
        if self.taken.is_empty() {
            self.take_queued(Some(waker));
        }
        self.hand_out()
    }

    /// Takes everything queued; registers `waker` (if any) when nothing is. The plugin, when it
    /// waits for room, is woken: what was handed out since the reader last came made room.
    fn take_queued(&mut self, waker: Option<&Waker>) {
        let writer = {
            let mut state = self.shared.lock();
            state.unread = state
                .unread
                .saturating_sub(std::mem::take(&mut self.handed_out));
            if !state.events.is_empty() {
                std::mem::swap(&mut state.events, &mut self.taken);
            } else if let Some(waker) = waker {
                match &state.reader {
                    Some(w) if w.will_wake(waker) => {}
                    _ => state.reader = Some(waker.clone()),
                }
            }
            state.writer.take()
        };
        if let Some(writer) = writer {
            writer.wake();
        }
    }

    fn hand_out(&mut self) -> Option<Event> {
        let event = self.taken.pop_front()?;
        let bytes = event.bytes();
        if bytes > 0 {
            self.handed_out += bytes;
            self.shared.tree.release(bytes);
        }
        Some(event)
    }
}

impl Drop for OutputReceiver {
    fn drop(&mut self) {
        let (unread, writer) = {
            let mut state = self.shared.lock();
            state.reader_gone = true;
            let queued: Vec<Event> = state.events.drain(..).collect();
            (queued, state.writer.take())
        };
        // Unread messages give their bytes back to the tree now.
        let bytes: usize = unread
            .iter()
            .chain(self.taken.iter())
            .map(Event::bytes)
            .sum();
        self.shared.tree.release(bytes);
        drop(unread);
        self.taken.clear();
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
    use crate::runtime::invocation_tree::InvocationTree;
    use futures::FutureExt;

    fn text(t: &str) -> ToolInvokeMessage {
        ToolInvokeMessage {
            payload: crate::contract::MessagePayload::Text(t.into()),
            meta: None,
        }
    }

    #[tokio::test]
    async fn the_plugin_waits_for_room_and_a_large_message_goes_alone() {
        let tree = InvocationTree::new(&Limits::default()).buffer().clone();
        let (tx, mut rx) = output_queue(10, tree);
        tx.send(text("a"), 6, "p").await.expect("fits");
        assert!(
            tx.send(text("b"), 5, "p").now_or_never().is_none(),
            "waits: 6 + 5 > 10"
        );
        assert!(matches!(rx.try_recv(), Some(Event::Message(..))));
        // The room is given back when the reader comes for more.
        assert!(rx.try_recv().is_none());
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
        let tree = InvocationTree::new(&Limits::default()).buffer().clone();
        let (tx, rx) = output_queue(10, tree);
        drop(rx);
        let refused = tx.send(text("a"), 1, "p").await.expect_err("nobody reads");
        assert!(matches!(refused, ToolError::Cancelled(_)), "{refused:?}");
    }
}
