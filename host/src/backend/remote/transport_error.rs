//! Turning HTTP transport failures into [`ToolError`]s that name the URL and say what to check.

use crate::error::ToolError;

/// An error with its whole chain of causes, `: `-separated, on one line.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text.replace('\n', " ")
}

/// A request to `url` (of the service `what`) that failed before any answer.
pub(crate) fn request_failed(what: &str, url: &str, error: &reqwest::Error) -> ToolError {
    let detail = chain(error);
    if error.is_timeout() {
        ToolError::TimedOut(format!(
            "connecting to the {what} at {url} took too long ({detail}); check that it is reachable, or raise the connect timeout (CLI --connect-timeout-secs)"
        ))
    } else if error.is_connect() {
        ToolError::BackendUnreachable(format!(
            "cannot connect to the {what} at {url} ({detail}); check the URL, that the service runs, and for https its certificate (CLI --ca-cert)"
        ))
    } else {
        ToolError::BackendUnreachable(format!(
            "the request to the {what} at {url} failed ({detail})"
        ))
    }
}

/// The connection to `url` broke while its answer was streaming.
pub(crate) fn body_failed(what: &str, url: &str, error: &reqwest::Error) -> ToolError {
    ToolError::BackendUnreachable(format!(
        "the connection to the {what} at {url} broke while the answer was streaming ({})",
        chain(error)
    ))
}
