//! The host side of the WIT `message-stream` resource: pulls messages from a backend stream on
//! the guest's demand, so a slow guest slows the producer and nothing is dropped.

use futures::{FutureExt, StreamExt};

use crate::backend::MessageStream;
use crate::contract::{MessageBatch, ToolInvokeMessage};
use crate::error::ToolError;

/// Most messages one `next-batch` call returns, whatever the guest asks for.
const MAX_BATCH_MESSAGES: u32 = 256;
/// A batch stops growing once its messages carry this many bytes, bounding one copy into the
/// guest.
const MAX_BATCH_BYTES: usize = 4 << 20;

/// One open message stream held by a guest. Dropping it drops the backend stream, which
/// cancels the invocation upstream.
///
/// A stream takes one of the instance's open-stream slots (`Limits::max_open_streams`) from
/// its start until it has delivered its end or its error, or is dropped, whichever comes first:
/// a guest that keeps the handles of finished streams (a JavaScript plugin that never disposes
/// them) is not refused for streams that are over.
pub struct HostMessageStream {
    source: MessageStream,
    pending_error: Option<ToolError>,
    finished: bool,
    max_message_bytes: usize,
    /// The stream still counts toward the instance's open streams.
    holds_slot: bool,
}

impl HostMessageStream {
    pub(crate) fn new(source: MessageStream, max_message_bytes: usize) -> Self {
        HostMessageStream {
            source,
            pending_error: None,
            finished: false,
            max_message_bytes,
            holds_slot: true,
        }
    }

    /// `true` once, when the stream has delivered its end or its error and so gives its
    /// open-stream slot back; the upstream invocation, over by then, is let go at once.
    pub(crate) fn release_slot_if_ended(&mut self) -> bool {
        if !(self.finished && self.holds_slot) {
            return false;
        }
        self.holds_slot = false;
        self.source = futures::stream::empty().boxed();
        true
    }

    /// `true` when the stream still held its slot, which it gives back now (it is being
    /// dropped); `false` when it gave it back already.
    pub(crate) fn release_slot(&mut self) -> bool {
        std::mem::take(&mut self.holds_slot)
    }

    /// The bytes the host holds for the message, or the limit error when they are too many.
    fn checked_size(&self, message: &ToolInvokeMessage) -> Result<usize, ToolError> {
        let size = message.held_bytes();
        if size > self.max_message_bytes {
            Err(ToolError::LimitExceeded(format!(
                "a received message takes {size} bytes, more than the limit of {} bytes per message (Limits::max_message_bytes, CLI --max-message-bytes)",
                self.max_message_bytes
            )))
        } else {
            Ok(size)
        }
    }

    /// Waits for the next message; `None` once the stream has ended. After an error the
    /// stream is over.
    pub(crate) async fn next(&mut self) -> Result<Option<ToolInvokeMessage>, ToolError> {
        Ok(self.next_sized().await?.map(|(message, _)| message))
    }

    /// [`HostMessageStream::next`], with the message's content size.
    async fn next_sized(&mut self) -> Result<Option<(ToolInvokeMessage, usize)>, ToolError> {
        if let Some(e) = self.pending_error.take() {
            self.finished = true;
            return Err(e);
        }
        if self.finished {
            return Ok(None);
        }
        match self.source.next().await {
            None => {
                self.finished = true;
                Ok(None)
            }
            Some(Ok(message)) => match self.checked_size(&message) {
                Ok(size) => Ok(Some((message, size))),
                Err(e) => {
                    self.finished = true;
                    Err(e)
                }
            },
            Some(Err(e)) => {
                self.finished = true;
                Err(e)
            }
        }
    }

    /// Waits for one message, then adds those already produced, up to `max`. An error that
    /// follows delivered messages is kept for the next call, so no message is lost to it.
    pub(crate) async fn next_batch(&mut self, max: u32) -> Result<MessageBatch, ToolError> {
        let max = max.clamp(1, MAX_BATCH_MESSAGES) as usize;
        let mut messages = Vec::new();
        let Some((first, mut bytes)) = self.next_sized().await? else {
            return Ok(MessageBatch {
                messages,
                finished: true,
            });
        };
        messages.push(first);
        while messages.len() < max && bytes < MAX_BATCH_BYTES {
            let Some(ready) = self.source.next().now_or_never() else {
                break;
            };
            match ready {
                None => {
                    self.finished = true;
                    break;
                }
                Some(Ok(message)) => match self.checked_size(&message) {
                    Ok(size) => {
                        bytes += size;
                        messages.push(message);
                    }
                    Err(e) => {
                        self.pending_error = Some(e);
                        break;
                    }
                },
                Some(Err(e)) => {
                    self.pending_error = Some(e);
                    break;
                }
            }
        }
        Ok(MessageBatch {
            messages,
            finished: self.finished,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::MessagePayload;

    fn text(t: &str) -> Result<ToolInvokeMessage, ToolError> {
        Ok(ToolInvokeMessage {
            payload: MessagePayload::Text(t.into()),
            meta: None,
        })
    }

    fn stream(items: Vec<Result<ToolInvokeMessage, ToolError>>) -> HostMessageStream {
        HostMessageStream::new(futures::stream::iter(items).boxed(), 1 << 20)
    }

    #[tokio::test]
    async fn the_slot_is_given_back_once_when_the_end_is_delivered() {
        let mut s = stream(vec![text("a"), text("b")]);
        assert!(s.next().await.expect("a message").is_some());
        assert!(!s.release_slot_if_ended(), "one message is still to come");
        assert!(s.next().await.expect("a message").is_some());
        assert!(!s.release_slot_if_ended(), "the end is not delivered yet");
        assert_eq!(s.next().await, Ok(None));
        assert!(s.release_slot_if_ended(), "the end was delivered");
        assert!(!s.release_slot_if_ended(), "never twice");
        assert_eq!(s.next().await, Ok(None), "the handle lives on, at its end");
        assert!(!s.release_slot(), "dropping it gives nothing back again");
    }

    #[tokio::test]
    async fn a_batch_that_ends_the_stream_gives_the_slot_back() {
        let mut s = stream(vec![text("a"), text("b")]);
        let batch = s.next_batch(10).await.expect("a batch");
        assert_eq!((batch.messages.len(), batch.finished), (2, true));
        assert!(s.release_slot_if_ended());
        assert!(!s.release_slot());
    }

    #[tokio::test]
    async fn an_error_gives_the_slot_back_when_it_is_delivered() {
        let failed = Err(ToolError::ToolFailed("broken".into()));
        let mut s = stream(vec![text("a"), failed]);
        let batch = s
            .next_batch(10)
            .await
            .expect("the message before the error");
        assert_eq!((batch.messages.len(), batch.finished), (1, false));
        assert!(
            !s.release_slot_if_ended(),
            "the error is kept for the next call"
        );
        assert!(s.next_batch(10).await.is_err());
        assert!(s.release_slot_if_ended());
        assert!(!s.release_slot_if_ended());
    }

    #[tokio::test]
    async fn an_unfinished_stream_gives_its_slot_back_when_dropped() {
        let mut s = stream(vec![text("a"), text("b")]);
        assert!(s.next().await.expect("a message").is_some());
        assert!(!s.release_slot_if_ended());
        assert!(s.release_slot(), "dropped before its end");
        assert!(!s.release_slot(), "never twice");
    }
}
