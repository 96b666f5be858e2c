//! One loop for both remote backends: read the body, feed a wire decoder, hand each message to
//! the consumer as soon as it is decoded, and stop at the first failure.

use futures::StreamExt;

use super::timed_body::TimedBody;
use crate::backend::MessageStream;
use crate::contract::ToolInvokeMessage;
use crate::error::ToolError;

/// What a decoder found in the bytes it was given.
pub(crate) enum Step {
    /// A message of the tool.
    Message(ToolInvokeMessage),
    /// The call failed; nothing follows.
    Failed(ToolError),
    /// The call is over, whatever else the body holds.
    End,
}

/// A push decoder of one wire format.
pub(crate) trait BodyDecoder: Send + 'static {
    /// Adds received bytes.
    fn push(&mut self, bytes: &[u8]);
    /// The next step; `None` when more bytes are needed.
    fn next_step(&mut self) -> Option<Step>;
    /// Checks, at the end of the body, that nothing is missing.
    fn finish(&mut self) -> Result<(), ToolError>;
}

struct State<D> {
    body: TimedBody,
    decoder: D,
    done: bool,
}

impl<D: BodyDecoder> State<D> {
    async fn next(&mut self) -> Option<Result<ToolInvokeMessage, ToolError>> {
        while !self.done {
            match self.decoder.next_step() {
                Some(Step::Message(m)) => return Some(Ok(m)),
                Some(Step::Failed(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Some(Step::End) => {
                    self.done = true;
                    self.body.drain_ready();
                }
                None => match self.body.next_chunk().await {
                    Ok(Some(bytes)) => self.decoder.push(&bytes),
                    Ok(None) => {
                        self.done = true;
                        return self.decoder.finish().err().map(Err);
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                },
            }
        }
        None
    }
}

/// The messages `decoder` finds in `body`. Dropping the stream drops the body, which closes
/// the connection and so cancels the call upstream.
pub(crate) fn decoded_stream<D: BodyDecoder>(body: TimedBody, decoder: D) -> MessageStream {
    let state = State {
        body,
        decoder,
        done: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        let item = state.next().await?;
        Some((item, state))
    })
    .boxed()
}
