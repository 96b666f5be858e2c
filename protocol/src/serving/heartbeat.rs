//! The plugin's heartbeat: the only thing that tells the daemon the plugin is alive.
//!
//! Session traffic does not count. Over remote-debug TCP the daemon closes a connection whose
//! last heartbeat is more than 60 s old (checked every 60 s); a local plugin's first heartbeat
//! marks it ready, and 120 s without one get it killed.

use std::time::Duration;

/// The heartbeat line, byte for byte as the Python SDK sends it.
pub const HEARTBEAT: &[u8] = b"{\"event\":\"heartbeat\",\"session_id\":null,\"data\":{}}\n\n";

/// How often the Python SDK sends a heartbeat; send one right after registration too.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heartbeat_is_the_sdks_and_valid_json() {
        let value: serde_json::Value =
            serde_json::from_slice(HEARTBEAT.trim_ascii_end()).expect("JSON");
        assert_eq!(
            value,
            serde_json::json!({"event": "heartbeat", "session_id": null, "data": {}})
        );
        assert!(HEARTBEAT.ends_with(b"}\n\n"));
    }
}
