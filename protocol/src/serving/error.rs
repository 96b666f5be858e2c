//! Why a line from the plugin daemon could not be read, and which session that concerns.

use super::oauth_request::OAuthRequestError;

/// A line from the daemon that the host cannot act on.
///
/// When `session_id` is known, only that session failed: answer it with a session `error`
/// and `end`, and keep the connection. Without one the line can only be logged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct DaemonLineError {
    /// The session the line belongs to, when it could be read.
    pub session_id: Option<String>,
    /// What is wrong with the line.
    pub kind: DaemonLineErrorKind,
}

impl DaemonLineError {
    /// An error about a line of `session_id`.
    pub fn new(session_id: Option<String>, kind: DaemonLineErrorKind) -> Self {
        DaemonLineError { session_id, kind }
    }

    /// A short stable name of the fault, for logs and session errors.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}

/// What is wrong with a line from the daemon.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DaemonLineErrorKind {
    /// The line is longer than the splitter's limit; its content was discarded.
    #[error(
        "a line from the plugin daemon is {length} bytes, more than the limit of {limit}; it was skipped (raise the line limit if the daemon really sends messages this large)"
    )]
    TooLong {
        /// The line's length, without its `\n`.
        length: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The line is not valid JSON.
    #[error("a line from the plugin daemon is not valid JSON ({0})")]
    InvalidJson(String),
    /// A field the protocol requires is absent or null.
    #[error(
        "a line from the plugin daemon has no `{0}`; the daemon speaks a protocol this host does not know"
    )]
    MissingField(&'static str),
    /// A field has the wrong JSON type.
    #[error("`{field}` in a line from the plugin daemon must be {expected}")]
    InvalidField {
        /// The field, as a path from the line's top (`data.provider`).
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// `credential_type` is not one Dify defines.
    #[error(
        "the request's credential_type `{0}` is not api-key, oauth2 or unauthorized; this host does not know how such credentials were obtained"
    )]
    UnknownCredentialType(String),
    /// A `backwards_response` carries an inner event other than response, error or end.
    #[error("a backwards_response carries the event `{0}`, not response, error or end")]
    UnknownBackwardsEvent(String),
    /// The OAuth callback request (`raw_http_request`) cannot be read.
    #[error("the OAuth callback request in `data.raw_http_request` is unusable: {0}")]
    InvalidCallbackRequest(#[from] OAuthRequestError),
}

impl DaemonLineErrorKind {
    /// A short stable name of the fault.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLong { .. } => "line_too_long",
            Self::InvalidJson(_) => "invalid_json",
            Self::MissingField(_) => "missing_field",
            Self::InvalidField { .. } => "invalid_field",
            Self::UnknownCredentialType(_) => "unknown_credential_type",
            Self::UnknownBackwardsEvent(_) => "unknown_backwards_event",
            Self::InvalidCallbackRequest(_) => "invalid_callback_request",
        }
    }
}
