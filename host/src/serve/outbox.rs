//! Lines waiting to be written to the daemon, bounded in bytes: a daemon that stops reading
//! slows the sessions down instead of growing the host's memory, whatever the size of the
//! lines.

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use crate::byte_budget::ByteBudget;

/// Bytes of lines one connection holds unwritten; one larger line is held alone.
pub(crate) const OUTBOX_BYTES: usize = 8 << 20;

/// The writer's side is gone: nothing more can be sent on this connection.
#[derive(Debug)]
pub(crate) struct Closed;

/// A line and the budget it holds until it is written.
pub(crate) struct OutLine {
    /// The bytes to write.
    pub(crate) bytes: Bytes,
    _permit: OwnedSemaphorePermit,
}

/// The sending side, shared by the sessions, the heartbeat and the reader of a connection.
#[derive(Clone)]
pub(crate) struct Outbox {
    lines: mpsc::UnboundedSender<OutLine>,
    budget: ByteBudget,
}

impl Outbox {
    /// An outbox holding at most `budget_bytes` of unwritten lines, and its receiving side.
    pub(crate) fn new(budget_bytes: usize) -> (Outbox, mpsc::UnboundedReceiver<OutLine>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Outbox {
                lines: tx,
                budget: ByteBudget::new(budget_bytes),
            },
            rx,
        )
    }

    /// Queues `line`, waiting while the outbox is full.
    pub(crate) async fn send(&self, line: Bytes) -> Result<(), Closed> {
        let permit = self.budget.take(line.len()).await.map_err(|_| Closed)?;
        self.push(line, permit)
    }

    /// Queues `line` when there is room now; `Err` when the outbox is full or closed.
    pub(crate) fn try_send(&self, line: Bytes) -> Result<(), Closed> {
        let permit = self.budget.try_take(line.len()).map_err(|_| Closed)?;
        self.push(line, permit)
    }

    fn push(&self, bytes: Bytes, permit: OwnedSemaphorePermit) -> Result<(), Closed> {
        self.lines
            .send(OutLine {
                bytes,
                _permit: permit,
            })
            .map_err(|_| Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_outbox_holds_senders_back_until_lines_are_written() {
        let (outbox, mut rx) = Outbox::new(10);
        outbox
            .send(Bytes::from_static(b"12345"))
            .await
            .expect("room");
        outbox
            .send(Bytes::from_static(b"12345"))
            .await
            .expect("room");
        assert!(outbox.try_send(Bytes::from_static(b"1")).is_err(), "full");
        let waiting = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.send(Bytes::from_static(b"abc")).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        let first = rx.recv().await.expect("a line");
        assert_eq!(&first.bytes[..], b"12345");
        drop(first);
        waiting
            .await
            .expect("joins")
            .expect("sent once room was made");
    }

    #[tokio::test]
    async fn a_line_larger_than_the_budget_goes_alone() {
        let (outbox, mut rx) = Outbox::new(4);
        outbox
            .send(Bytes::from_static(b"0123456789"))
            .await
            .expect("alone");
        assert!(outbox.try_send(Bytes::from_static(b"x")).is_err());
        drop(rx.recv().await);
        outbox
            .try_send(Bytes::from_static(b"x"))
            .expect("room again");
    }

    #[tokio::test]
    async fn sending_after_the_writer_is_gone_fails() {
        let (outbox, rx) = Outbox::new(4);
        drop(rx);
        assert!(outbox.send(Bytes::from_static(b"x")).await.is_err());
    }
}
