//! Serving a plugin to a Dify plugin daemon, so that Dify calls it like any plugin: the
//! protocol once ([`connection`]), over the daemon's two transports for a plugin process:
//! remote debugging over TCP ([`remote_debug`]) and the local runtime's stdin and stdout
//! ([`stdio`]); and as an HTTP server for the daemon's serverless runtime ([`serverless`]).

mod backwards;
pub mod connection;
mod error_type;
pub(crate) mod http_server;
mod outbox;
pub mod remote_debug;
mod served;
pub mod serverless;
mod session;
pub mod stdio;

pub use connection::{ConnectionEnd, ConnectionOptions};
pub use remote_debug::{RemoteDebugOptions, serve_remote_debug};
pub use served::{ServeError, ServedPlugin};
pub use serverless::{ServerlessOptions, serve_serverless};
pub use stdio::serve_stdio;
