//! Scripted answers to a plugin's backwards calls, written as `backwards_response` lines.

use std::time::Duration;

use serde_json::Value;

use super::wire::BackwardsEvent;

/// One `backwards_response` to write, after a pause.
#[derive(Debug, Clone, PartialEq)]
pub struct BackwardsAnswer {
    /// How long to wait before writing it, counted from the previous answer to the same call
    /// (or from the call's arrival). Calls are answered concurrently, so delays reorder
    /// answers across calls.
    pub delay: Duration,
    /// `response`, `error` or `end`.
    pub event: BackwardsEvent,
    /// `message`: `"stream"` for responses (as in the transcript), the reason for errors.
    pub message: String,
    /// `data`: the result for responses, `null` otherwise.
    pub data: Value,
}

impl BackwardsAnswer {
    /// One result, e.g. a ToolInvokeMessage `{"type":"text","message":{"text":..},"meta":null}`.
    pub fn response(data: Value) -> BackwardsAnswer {
        BackwardsAnswer {
            delay: Duration::ZERO,
            event: BackwardsEvent::Response,
            message: "stream".into(),
            data,
        }
    }

    /// The call failed with `message`.
    pub fn error(message: impl Into<String>) -> BackwardsAnswer {
        BackwardsAnswer {
            delay: Duration::ZERO,
            event: BackwardsEvent::Error,
            message: message.into(),
            data: Value::Null,
        }
    }

    /// No more answers for the call.
    pub fn end() -> BackwardsAnswer {
        BackwardsAnswer {
            delay: Duration::ZERO,
            event: BackwardsEvent::End,
            message: String::new(),
            data: Value::Null,
        }
    }

    /// The same answer, written `delay` after the previous one.
    pub fn after(mut self, delay: Duration) -> BackwardsAnswer {
        self.delay = delay;
        self
    }

    /// A successful call: one `response` per result, then `end`.
    pub fn stream(results: impl IntoIterator<Item = Value>) -> Vec<BackwardsAnswer> {
        let mut answers: Vec<BackwardsAnswer> =
            results.into_iter().map(BackwardsAnswer::response).collect();
        answers.push(BackwardsAnswer::end());
        answers
    }

    /// A failed call, as the daemon reports one: `error`, then `end`.
    pub fn failure(message: impl Into<String>) -> Vec<BackwardsAnswer> {
        vec![BackwardsAnswer::error(message), BackwardsAnswer::end()]
    }
}
