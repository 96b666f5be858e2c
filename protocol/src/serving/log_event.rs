//! A log line from the plugin (`event: "log"`). A local daemon writes it to its own log; the
//! remote-debug and serverless runtimes drop it, so it is only worth sending over stdio.

use super::json_line::{MESSAGE_END, line, object};

/// How severe a log line is; the daemon maps the names to its own levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Detail for debugging.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that did not fail.
    Warning,
    /// A failure.
    Error,
}

impl LogLevel {
    /// Python's level name, which the SDK sends.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warning => "WARNING",
            Self::Error => "ERROR",
        }
    }
}

/// A log line: `{"event":"log","session_id":null,"data":{"level","message","timestamp"}}`,
/// `timestamp` in Unix seconds (the host owns the clock).
pub fn log_event(level: LogLevel, message: &str, timestamp: f64) -> Vec<u8> {
    line(
        &object([
            ("event", "log".into()),
            ("session_id", serde_json::Value::Null),
            (
                "data",
                object([
                    ("level", level.as_str().into()),
                    ("message", message.into()),
                    ("timestamp", timestamp.into()),
                ]),
            ),
        ]),
        MESSAGE_END,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_carries_level_message_and_time() {
        assert_eq!(
            log_event(LogLevel::Warning, "slow <tool>", 1767225600.5),
            b"{\"event\":\"log\",\"session_id\":null,\"data\":{\"level\":\"WARNING\",\"message\":\"slow <tool>\",\"timestamp\":1767225600.5}}\n\n"
        );
    }
}
