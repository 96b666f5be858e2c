//! The local runtime's transport: the daemon starts the plugin as a child process and speaks
//! the protocol over its stdin and stdout. The first heartbeat tells the daemon the plugin is
//! ready; stdout carries nothing but protocol lines (logs go to stderr).

use std::sync::Arc;

use dify_plugin_protocol::serving::STDIO_MAX_LINE_BYTES;

use crate::serve::connection::{self, ConnectionEnd, ConnectionOptions};
use crate::serve::served::{ServeError, ServedPlugin};

/// Serves `served` on this process's stdin and stdout until the daemon closes stdin; sessions
/// still running then may finish.
pub async fn serve_stdio(
    served: Arc<ServedPlugin>,
    options: &ConnectionOptions,
) -> Result<(), ServeError> {
    let options = ConnectionOptions {
        plain_text_is_refusal: false,
        drain_on_close: true,
        max_output_line_bytes: Some(STDIO_MAX_LINE_BYTES),
        ..options.clone()
    };
    match connection::run(served, tokio::io::stdin(), tokio::io::stdout(), &options).await {
        ConnectionEnd::Closed => Ok(()),
        ConnectionEnd::Failed(e) => Err(ServeError::Io(e)),
        ConnectionEnd::Refused(text) => Err(ServeError::Refused {
            address: "stdin".into(),
            text,
        }),
    }
}
