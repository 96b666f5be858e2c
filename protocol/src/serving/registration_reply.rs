//! The daemon's only answer during registration: a plain-text line saying why it refuses the
//! plugin, written just before it closes the connection.
//!
//! The daemon never acknowledges a registration. After `end` it only sends JSON lines (forward
//! requests, backwards responses), until it refuses the plugin at `end` (e.g. `assets remap
//! failed, ...` or `server is busy now, please try again later`). So a line that is not a JSON
//! object means the same thing before and after `end`: registration failed, and the
//! connection is closing. A validator error can span several lines; collect them until the
//! connection closes.

/// How many characters of the daemon's text are kept.
const MAX_TEXT_CHARS: usize = 4096;

/// The daemon refused the plugin; its text says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the plugin daemon refused the plugin: {text}{}", hint(text))]
pub struct RegistrationRejected {
    /// The daemon's line (trimmed, at most 4096 characters, invalid UTF-8 replaced).
    pub text: String,
}

impl RegistrationRejected {
    /// The daemon's refusal, when `line` is one: a non-blank line that is not a JSON object.
    pub fn from_line(line: &[u8]) -> Option<Self> {
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() || trimmed.starts_with(b"{") {
            return None;
        }
        let text: String = String::from_utf8_lossy(trimmed)
            .chars()
            .take(MAX_TEXT_CHARS)
            .collect();
        Some(RegistrationRejected { text })
    }

    /// A short stable name of the refusal.
    pub fn code(&self) -> &'static str {
        if self.text.starts_with("handshake failed, invalid key") {
            "invalid_debugging_key"
        } else if self.text.starts_with("server is busy") {
            "daemon_busy"
        } else {
            "registration_rejected"
        }
    }
}

/// What to do about the daemon's known refusals.
fn hint(text: &str) -> &'static str {
    const HINTS: [(&str, &str); 7] = [
        (
            "handshake failed, invalid key",
            " (the debugging key is unknown or expired, keys expire after 2 hours unused: copy the current key from the Dify console's plugin page)",
        ),
        (
            "server is busy",
            " (the daemon already serves its maximum of debugging connections, PLUGIN_REMOTE_INSTALLING_MAX_CONN: retry later)",
        ),
        (
            "assets remap failed",
            " (every icon the manifest or a provider names must be a file in _assets/)",
        ),
        (
            "no registration transferred",
            " (the plugin declares nothing the daemon can serve: declare at least one tool provider)",
        ),
        (
            "handshake failed, invalid plugin declaration",
            " (fix the manifest field the text names)",
        ),
        (
            "register failed, invalid manifest",
            " (fix the manifest field the text names)",
        ),
        (
            "tools register failed",
            " (fix the provider or tool declaration field the text names)",
        ),
    ];
    HINTS
        .iter()
        .find(|(start, _)| text.starts_with(start))
        .map_or("", |(_, hint)| hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_a_refusal_and_json_is_not() {
        let r =
            RegistrationRejected::from_line(b"handshake failed, invalid key\r").expect("refusal");
        assert_eq!(r.text, "handshake failed, invalid key");
        assert_eq!(r.code(), "invalid_debugging_key");
        assert!(r.to_string().contains("copy the current key"), "{r}");

        let busy = RegistrationRejected::from_line(b"server is busy now, please try again later")
            .expect("refusal");
        assert_eq!(busy.code(), "daemon_busy");

        let remap = RegistrationRejected::from_line(
            b"assets remap failed, invalid assets data, cannot remap: file not found: icon.svg",
        )
        .expect("refusal");
        assert_eq!(remap.code(), "registration_rejected");
        assert!(remap.to_string().contains("file not found: icon.svg"));
        assert!(remap.to_string().contains("_assets/"));

        assert_eq!(
            RegistrationRejected::from_line(br#"{"session_id":"s"}"#),
            None
        );
        assert_eq!(RegistrationRejected::from_line(br#"  {"broken"#), None);
        assert_eq!(RegistrationRejected::from_line(b" \t"), None);
    }

    #[test]
    fn a_long_or_binary_refusal_is_kept_short_and_readable() {
        let mut line = vec![0xff, b'x'];
        line.extend(std::iter::repeat_n(b'y', 10_000));
        let r = RegistrationRejected::from_line(&line).expect("refusal");
        assert_eq!(r.text.chars().count(), MAX_TEXT_CHARS);
        assert!(r.text.starts_with("\u{fffd}x"));
    }
}
