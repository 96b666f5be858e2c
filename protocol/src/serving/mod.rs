//! The lines a plugin and the plugin daemon exchange when the daemon calls the plugin, over
//! remote-debug TCP or a local plugin's stdio (the same lines on both).
//!
//! Nothing here does I/O: the host's transports push the bytes they read into a
//! [`LineSplitter`], read each line with [`decode_daemon_line`], and write the byte strings the
//! encoders return.
//!
//! Daemon to plugin: one JSON object per line, ended by `\n`, each a forward request
//! ([`ForwardRequest`]) or the answer to a backwards call ([`BackwardsResponse`]); a
//! plain-text line is the daemon refusing the plugin ([`RegistrationRejected`]).
//!
//! Plugin to daemon: registration ([`handshake`], [`manifest_declaration`],
//! [`tool_declaration`], [`asset_chunks`], [`registration_end`]), then [`HEARTBEAT`]s and,
//! per session, [`session_stream`] / [`session_invoke`] / [`session_error`] /
//! [`session_end`]; a tool's blob goes as [`BlobChunks`].

mod backwards_response;
mod blob_chunks;
mod daemon_line;
mod error;
mod forward_request;
mod heartbeat;
mod json_fields;
mod json_line;
mod lines;
mod log_event;
mod oauth_request;
mod registration;
mod registration_reply;
mod session_message;
#[cfg(test)]
mod transcript;
mod typed_line;

pub use backwards_response::{BackwardsEvent, BackwardsResponse};
pub use blob_chunks::{BLOB_CHUNK_BYTES, BlobChunks};
pub use daemon_line::{
    DaemonMessage, decode_daemon_line, decode_daemon_line_via_value, session_id_from_prefix,
};
pub use error::{DaemonLineError, DaemonLineErrorKind};
pub use forward_request::{
    CredentialType, FetchParameterOptions, ForwardAction, ForwardRequest, GetAuthorizationUrl,
    GetCredentials, GetToolRuntimeParameters, InvokeTool, RefreshCredentials,
    ValidateToolCredentials,
};
pub use heartbeat::{HEARTBEAT, HEARTBEAT_INTERVAL};
pub use lines::{
    DEFAULT_MAX_LINE_BYTES, Line, LineSplitter, OVERSIZED_PREFIX_BYTES, OversizedLine,
    UnterminatedLine,
};
pub use log_event::{LogLevel, log_event};
pub use oauth_request::{
    MAX_CALLBACK_REQUEST_BYTES, MAX_CALLBACK_REQUEST_HEADERS, OAuthCallbackRequest,
    OAuthRequestError,
};
pub use registration::{
    ASSET_CHUNK_BYTES, AssetChunks, AssetError, DAEMON_MAX_ASSET_BYTES, asset_chunks, handshake,
    manifest_declaration, registration_end, tool_declaration,
};
pub use registration_reply::RegistrationRejected;
pub use session_message::{
    BackwardsToolCall, STDIO_MAX_LINE_BYTES, SessionError, TooManyErrorArgs, ToolType, session_end,
    session_error, session_invoke, session_stream, session_stream_encoded,
};
