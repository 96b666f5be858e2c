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
pub struct HostMessageStream {
    source: MessageStream,
    pending_error: Option<ToolError>,
    finished: bool,
    max_message_bytes: usize,
}

impl HostMessageStream {
    pub(crate) fn new(source: MessageStream, max_message_bytes: usize) -> Self {
        HostMessageStream {
            source,
            pending_error: None,
            finished: false,
            max_message_bytes,
        }
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
