//! Resource limits of the sandbox, each with a default that suits a typical Dify tool.

use std::time::Duration;

use crate::error::ToolError;

/// Limits applied to every plugin instance and invocation.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Memory one instance may use, in bytes: all of its linear memories and tables together.
    pub memory_bytes: u64,
    /// Wall-clock time one invocation may take as its caller sees it: from the call until the
    /// last message is read, including the tools it calls and any wait for an instance slot.
    pub invocation_timeout: Duration,
    /// Message streams one instance may hold open at once.
    pub max_open_streams: u32,
    /// Size of one message, in bytes: what it holds in the host and its Dify JSON text may each
    /// be at most this (Dify's daemon caps a frame at 30 MiB). A buffered message is charged
    /// both, plus what converting it takes.
    pub max_message_bytes: usize,
    /// Size of the JSON parameters of one invocation, in bytes.
    pub max_parameter_bytes: usize,
    /// How deep plugin-to-plugin calls may nest (1 = a plugin may call tools, but the called
    /// plugins may not call further).
    pub max_nesting_depth: u32,
    /// Bytes of messages buffered in one stream before its producer waits (a larger message is
    /// buffered alone).
    pub stream_buffer_bytes: usize,
    /// Bytes of messages buffered across all the streams of one invocation and of the tools it
    /// calls; a plugin that goes beyond fails with `limit-exceeded`.
    pub invocation_buffer_bytes: usize,
    /// Bytes of stdout and stderr one invocation may write to the host's log (the tools it
    /// calls included); the rest is dropped and counted.
    pub max_log_bytes: usize,
    /// Plugin instances alive at once across the runtime (the size of the instance pool).
    pub max_instances: u32,
    /// Instances one invocation may have alive at once, itself and the tools it calls through
    /// the local backend, so that one invocation cannot take the whole pool.
    pub max_instances_per_invocation: u32,
    /// How long an invocation waits for a free instance slot before it fails.
    pub instance_wait: Duration,
    /// Bytes of one HTTP response body a plugin may read (outbound HTTP, see
    /// [`crate::outbound_http`]); a larger body fails with `HTTP-response-body-size`.
    pub max_http_response_bytes: u64,
    /// Bytes of one HTTP request body a plugin may send; a larger one fails with
    /// `HTTP-request-body-size`.
    pub max_http_request_bytes: u64,
    /// How long connecting (name lookup, TCP, TLS) to an HTTP server may take; never more
    /// than what is left of the invocation's time.
    pub http_connect_timeout: Duration,
    /// How long an HTTP server may take to start its answer, and then between two pieces of
    /// its body; never more than what is left of the invocation's time.
    pub http_read_timeout: Duration,
}

impl Limits {
    /// Refuses JSON parameters of `len` bytes when they exceed the limit; `what` names the call
    /// in the error.
    pub fn check_parameters(&self, what: &str, len: usize) -> Result<(), ToolError> {
        if len > self.max_parameter_bytes {
            return Err(ToolError::LimitExceeded(format!(
                "the parameters of {what} are {len} bytes, more than the limit of {} (Limits::max_parameter_bytes, CLI --max-parameter-bytes)",
                self.max_parameter_bytes
            )));
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 128 << 20,
            invocation_timeout: Duration::from_secs(120),
            max_open_streams: 16,
            max_message_bytes: 30 << 20,
            max_parameter_bytes: 4 << 20,
            max_nesting_depth: 8,
            stream_buffer_bytes: 1 << 20,
            invocation_buffer_bytes: 64 << 20,
            max_log_bytes: 1 << 20,
            max_instances: 256,
            max_instances_per_invocation: 16,
            instance_wait: Duration::from_secs(30),
            max_http_response_bytes: 16 << 20,
            max_http_request_bytes: 16 << 20,
            http_connect_timeout: Duration::from_secs(10),
            http_read_timeout: Duration::from_secs(30),
        }
    }
}
