//! The local runtime's transport: the daemon starts the plugin as a child process and speaks
//! the protocol over its stdin and stdout. The first heartbeat tells the daemon the plugin is
//! ready; stdout carries nothing but protocol lines (logs go to stderr).

use std::pin::Pin;
use std::sync::Arc;

use dify_plugin_protocol::serving::STDIO_MAX_LINE_BYTES;
use tokio::io::{AsyncRead, AsyncWrite};

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
    match connection::run(served, stdin(), stdout(), &options).await {
        ConnectionEnd::Closed => Ok(()),
        ConnectionEnd::Failed(e) => Err(ServeError::Io(e)),
        ConnectionEnd::Refused(text) => Err(ServeError::Refused {
            address: "stdin".into(),
            text,
        }),
    }
}

type Reader = Pin<Box<dyn AsyncRead + Send>>;
type Writer = Pin<Box<dyn AsyncWrite + Send>>;

/// Stdin as the daemon gives it, a pipe, is read by the event loop itself; tokio's portable
/// stdin hands every read to a blocking thread, which costs a thread switch per request.
/// Anything else (a file, a terminal) falls back to the portable one.
fn stdin() -> Reader {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned()
            && let Ok(pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
        {
            return Box::pin(pipe);
        }
    }
    Box::pin(tokio::io::stdin())
}

/// Stdout, as [`stdin`]: a pipe is written by the event loop, anything else through tokio's
/// portable stdout.
fn stdout() -> Writer {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = std::io::stdout().as_fd().try_clone_to_owned()
            && let Ok(pipe) = tokio::net::unix::pipe::Sender::from_owned_fd(fd)
        {
            return Box::pin(pipe);
        }
    }
    Box::pin(tokio::io::stdout())
}
