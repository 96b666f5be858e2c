//! Reading the messages of a tool this plugin invoked.

use std::collections::VecDeque;
use std::iter::FusedIterator;

use crate::bindings::dify::plugin::tool as wit_tool;
use crate::bindings::dify::plugin::types as wit;
use crate::blob::Blobs;
use crate::error::Error;
use crate::message::ToolMessage;

/// How many messages [`MessageStream`] asks the host for per call unless told otherwise: large
/// enough that a chatty tool costs few boundary crossings, small enough to keep memory flat.
pub const DEFAULT_BATCH_SIZE: u32 = 32;

/// The messages of one running invocation, in the order the called tool produced them.
///
/// Iterating yields `Ok(message)` for each message, then `None` once the tool finished. If the
/// invocation fails, it yields that one `Err` and then `None`: the error is the called tool's
/// final answer, and any message that follows it would be meaningless.
///
/// Messages are fetched in batches (see [`MessageStream::batch_size`]) and buffered, so one
/// host call serves many `next()`s; a batch size of 1 reads one message per host call.
///
/// **Dropping the stream cancels the invocation upstream**: the host stops the called tool and
/// frees what it held. Drop a stream as soon as its remaining messages are not wanted, and keep
/// it alive while they are.
#[derive(Debug)]
pub struct MessageStream {
    /// `None` once the stream ended, failed or was closed: the resource is dropped early so the
    /// host can free the invocation before this value goes away.
    handle: Option<wit_tool::MessageStream>,
    buffer: VecDeque<wit::ToolInvokeMessage>,
    batch_size: u32,
}

impl MessageStream {
    pub(crate) fn new(handle: wit_tool::MessageStream) -> Self {
        Self {
            handle: Some(handle),
            buffer: VecDeque::new(),
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }

    /// Sets how many messages to fetch per host call (at least 1; 1 uses the single-message
    /// `next` of the host). Smaller batches hand messages on sooner to a plugin that relays
    /// them while it reads; larger ones cross the boundary less often.
    #[must_use]
    pub fn batch_size(mut self, max: u32) -> Self {
        self.set_batch_size(max);
        self
    }

    /// Like [`MessageStream::batch_size`], for a stream already held by reference.
    pub fn set_batch_size(&mut self, max: u32) {
        self.batch_size = max.max(1);
    }

    /// True once every message was yielded (or the stream failed); `next()` then returns `None`.
    pub fn is_finished(&self) -> bool {
        self.handle.is_none() && self.buffer.is_empty()
    }

    /// Reassembles `blob_chunk` sequences into whole `blob` messages and passes every other
    /// message through, the way Dify itself reads a tool's output. See [`Blobs`].
    pub fn blobs(self) -> Blobs<Self> {
        Blobs::new(self)
    }

    /// Ends the stream early: drops the host resource (cancelling the invocation) and any
    /// buffered messages.
    fn stop(&mut self) {
        self.handle = None;
        self.buffer.clear();
    }
}

impl Iterator for MessageStream {
    type Item = Result<ToolMessage, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(raw) = self.buffer.pop_front() {
                let converted = ToolMessage::try_from(raw);
                if converted.is_err() {
                    self.stop();
                }
                return Some(converted);
            }
            let handle = self.handle.as_ref()?;
            if self.batch_size == 1 {
                match handle.next() {
                    Ok(Some(raw)) => self.buffer.push_back(raw),
                    Ok(None) => {
                        self.stop();
                        return None;
                    }
                    Err(e) => {
                        self.stop();
                        return Some(Err(e.into()));
                    }
                }
            } else {
                match handle.next_batch(self.batch_size) {
                    Ok(batch) => {
                        self.buffer.extend(batch.messages);
                        if batch.finished {
                            // Nothing more can come: release the invocation now rather than
                            // when the caller gets round to dropping the stream.
                            self.handle = None;
                        }
                    }
                    Err(e) => {
                        self.stop();
                        return Some(Err(e.into()));
                    }
                }
            }
        }
    }
}

impl FusedIterator for MessageStream {}
