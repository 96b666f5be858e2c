//! Resource limits of the sandbox, each with a default that suits a typical Dify tool.

use std::time::Duration;

use crate::error::ToolError;

/// Limits applied to every plugin instance and invocation.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Linear memory one instance may use, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock time one invocation may take, including the tools it calls.
    pub invocation_timeout: Duration,
    /// Message streams one instance may hold open at once.
    pub max_open_streams: u32,
    /// Content size of one message, in bytes (Dify's daemon caps a frame at 30 MiB).
    pub max_message_bytes: usize,
    /// Size of the JSON parameters of one invocation, in bytes.
    pub max_parameter_bytes: usize,
    /// How deep plugin-to-plugin calls may nest (1 = a plugin may call tools, but the called
    /// plugins may not call further).
    pub max_nesting_depth: u32,
    /// Messages buffered between a producer and its consumer before the producer waits.
    pub stream_buffer: usize,
    /// Plugin instances alive at once across the runtime (the size of the instance pool).
    pub max_instances: u32,
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
            stream_buffer: 16,
            max_instances: 256,
        }
    }
}
