//! What a plugin sends for one session (`{"event":"session","data":SessionMessage}`), and the
//! rules a whole session must follow.

use serde_json::Value;

use super::payload_checks::{Action, AssembledBlob, check_stream_payload, reassemble_blobs};

/// A backwards call the plugin made (a session message of type `invoke`).
#[derive(Debug, Clone, PartialEq)]
pub struct BackwardsCall {
    /// The session it belongs to.
    pub session_id: String,
    /// What is invoked: `tool`, `llm`, `app`, `storage`, ...
    pub invoke_type: String,
    /// The id the answers must carry.
    pub backwards_request_id: String,
    /// The call's `request` object.
    pub request: Value,
}

/// A failure the plugin reported (a session message of type `error`).
#[derive(Debug, Clone, PartialEq)]
pub struct PluginError {
    /// `error_type`, such as `ValueError` or `ToolProviderCredentialValidationError`.
    pub error_type: String,
    /// `message`.
    pub message: String,
    /// `args` (an object or `null`; the SDK puts `traceback` there).
    pub args: Value,
}

/// One message of a session, in the order the plugin sent them.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// `stream`: one result; its shape depends on the action.
    Stream(Value),
    /// `invoke`: a backwards call.
    Invoke(BackwardsCall),
    /// `error`: the request failed.
    Error(PluginError),
    /// `end`: the session is over.
    End,
}

/// Every message of one session, up to and including its `end`.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionTranscript {
    /// The session id.
    pub session_id: String,
    /// The action requested, when the request named a known one.
    pub action: Option<Action>,
    /// The messages in arrival order.
    pub events: Vec<SessionEvent>,
}

impl SessionTranscript {
    /// The `stream` payloads in order.
    pub fn streams(&self) -> Vec<&Value> {
        self.events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Stream(v) => Some(v),
                _ => None,
            })
            .collect()
    }

    /// The backwards calls in order.
    pub fn invokes(&self) -> Vec<&BackwardsCall> {
        self.events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Invoke(call) => Some(call),
                _ => None,
            })
            .collect()
    }

    /// The reported error, if any.
    pub fn error(&self) -> Option<&PluginError> {
        self.events.iter().find_map(|e| match e {
            SessionEvent::Error(error) => Some(error),
            _ => None,
        })
    }

    /// The message kinds in order (`stream`, `invoke`, `error`, `end`), for compact asserts.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.events
            .iter()
            .map(|e| match e {
                SessionEvent::Stream(_) => "stream",
                SessionEvent::Invoke(_) => "invoke",
                SessionEvent::Error(_) => "error",
                SessionEvent::End => "end",
            })
            .collect()
    }

    /// The session rule: it ends with exactly one `end`, has at most one `error`, and an
    /// `error` is directly followed by that `end`.
    pub fn check_rules(&self) -> Result<(), String> {
        check_session_rules(&self.events)
    }

    /// Every `stream` payload decodes as the daemon decodes it for the action, and for
    /// `invoke_tool` every blob split into chunks is complete. Fails when the action is
    /// unknown.
    pub fn check_payloads(&self) -> Result<(), String> {
        let action = self
            .action
            .ok_or_else(|| "the request named no known action".to_owned())?;
        for payload in self.streams() {
            check_stream_payload(action, payload).map_err(|e| e.to_string())?;
        }
        if action == Action::InvokeTool {
            reassemble_blobs(self.streams()).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// [`check_rules`](Self::check_rules) and [`check_payloads`](Self::check_payloads).
    pub fn check(&self) -> Result<(), String> {
        self.check_rules()?;
        self.check_payloads()
    }

    /// The blobs the `blob_chunk` messages carried, reassembled.
    pub fn blobs(&self) -> Result<Vec<AssembledBlob>, String> {
        reassemble_blobs(self.streams()).map_err(|e| e.to_string())
    }
}

/// The session rule on any event list: exactly one `end`, last; at most one `error`, and it
/// comes right before the `end`.
pub fn check_session_rules(events: &[SessionEvent]) -> Result<(), String> {
    let kinds: Vec<&SessionEvent> = events.iter().collect();
    let ends = kinds
        .iter()
        .filter(|e| matches!(e, SessionEvent::End))
        .count();
    let errors: Vec<usize> = kinds
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, SessionEvent::Error(_)))
        .map(|(i, _)| i)
        .collect();
    if !matches!(kinds.last(), Some(SessionEvent::End)) {
        return Err(format!("the session does not end with `end`: {events:?}"));
    }
    if ends != 1 {
        return Err(format!("the session has {ends} `end` messages: {events:?}"));
    }
    if errors.len() > 1 {
        return Err(format!(
            "the session has {} `error` messages: {events:?}",
            errors.len()
        ));
    }
    if let Some(&at) = errors.first()
        && at + 2 != kinds.len()
    {
        return Err(format!(
            "an `error` must be followed directly by `end`: {events:?}"
        ));
    }
    Ok(())
}
