//! The remote-debug listener: a real TCP port on 127.0.0.1 that plugins dial, register on,
//! and then serve requests over (`internal/core/debugging_runtime`).

use std::net::SocketAddr;
use std::ops::Deref;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use super::connection::PluginConnection;
use super::error::DaemonError;
use super::lines::LineReader;
use super::registration::{Registrar, Registration, Step};

/// How long the daemon gives a new connection to hand-shake (`hooks.go OnOpen`).
pub const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// How long a rejected plugin gets to read the daemon's line and hang up.
const REJECTION_GRACE: Duration = Duration::from_secs(2);

/// A fake dify-plugin-daemon listening for remote-debug plugins.
pub struct TestDaemon {
    listener: TcpListener,
    addr: SocketAddr,
    key: String,
    reject_on: Option<(String, String)>,
    handshake_limit: Duration,
    registration_limit: Duration,
}

impl TestDaemon {
    /// Listens on `127.0.0.1:0`; plugins must hand-shake with `key`.
    pub async fn bind(key: impl Into<String>) -> std::io::Result<TestDaemon> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        Ok(TestDaemon {
            listener,
            addr,
            key: key.into(),
            reject_on: None,
            handshake_limit: HANDSHAKE_LIMIT,
            registration_limit: Duration::from_secs(60),
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:<port>`, the form the SDK's `REMOTE_INSTALL_URL` takes.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    /// The debugging key plugins must present.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Rejects every registration when a message of type `message_type` (`handshake`,
    /// `manifest_declaration`, `tool_declaration`, `asset_chunk`, `end`) arrives: writes
    /// `line` and `\n`, then closes, like the daemon does on any registration failure.
    pub fn reject_on(mut self, message_type: &str, line: &str) -> TestDaemon {
        self.reject_on = Some((message_type.to_owned(), line.to_owned()));
        self
    }

    /// Changes how long a connection may take to hand-shake (10 s, as the daemon).
    pub fn handshake_limit(mut self, limit: Duration) -> TestDaemon {
        self.handshake_limit = limit;
        self
    }

    /// Changes how long a connection may take to reach `end` (60 s; the daemon has no limit).
    pub fn registration_limit(mut self, limit: Duration) -> TestDaemon {
        self.registration_limit = limit;
        self
    }

    /// Accepts the next connection and runs its registration to `end`, applying the daemon's
    /// checks. On failure the daemon's text line has been written and the connection closed;
    /// [`DaemonError::Rejected`] carries the line and what the plugin sent.
    pub async fn accept(&self) -> Result<RegisteredPlugin, DaemonError> {
        let (stream, _) = self.listener.accept().await?;
        let connected = tokio::time::Instant::now();
        // Lines leave at once, as the daemon's do, not batched by Nagle.
        stream.set_nodelay(true)?;
        let (read_half, mut write_half) = stream.into_split();
        let mut lines = LineReader::new(Box::new(read_half));
        let mut registrar = Registrar::new(self.key.clone(), self.reject_on.clone());
        let registration_deadline = connected + self.registration_limit;
        let handshake_deadline = connected + self.handshake_limit;
        loop {
            let deadline = if registrar.handshake_done() {
                registration_deadline
            } else {
                handshake_deadline.min(registration_deadline)
            };
            let line = match tokio::time::timeout_at(deadline, lines.next_line()).await {
                Err(_) if !registrar.handshake_done() => {
                    return Err(DaemonError::HandshakeTimeout(self.handshake_limit));
                }
                Err(_) => {
                    return Err(DaemonError::RegistrationTimeout {
                        limit: self.registration_limit,
                        registration: Box::new(registrar.into_registration()),
                    });
                }
                Ok(Err(e)) => return Err(DaemonError::Io(e)),
                Ok(Ok(None)) => {
                    return Err(DaemonError::ClosedDuringRegistration {
                        registration: Box::new(registrar.into_registration()),
                    });
                }
                Ok(Ok(Some(line))) => line,
            };
            match registrar.on_line(&line) {
                Step::Continue => {}
                Step::Finished => break,
                Step::Reject(text) => {
                    let mut bytes = text.clone().into_bytes();
                    bytes.push(b'\n');
                    // The plugin may already be gone; the rejection stands either way.
                    let _ = write_half.write_all(&bytes).await;
                    let _ = write_half.shutdown().await;
                    let peer_closed = drain(&mut lines).await;
                    return Err(DaemonError::Rejected {
                        line: text,
                        registration: Box::new(registrar.into_registration()),
                        peer_closed,
                    });
                }
            }
        }
        let registered_at = registrar
            .registration()
            .ended_at
            .unwrap_or_else(Instant::now);
        let registration = registrar.into_registration();
        let connection =
            PluginConnection::start(lines, Box::new(write_half), None, Some(registered_at));
        Ok(RegisteredPlugin {
            registration,
            connection,
        })
    }
}

/// Reads and discards until the plugin hangs up or the grace period ends; `true` if it hung
/// up. (The real daemon closes at once, and unread input can then reset the connection
/// before the plugin reads the line; draining keeps tests deterministic.)
async fn drain(lines: &mut LineReader) -> bool {
    let deadline = tokio::time::Instant::now() + REJECTION_GRACE;
    loop {
        match tokio::time::timeout_at(deadline, lines.next_line()).await {
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None)) | Ok(Err(_)) => return true,
            Err(_) => return false,
        }
    }
}

/// A plugin that completed remote-debug registration. Derefs to its [`PluginConnection`].
pub struct RegisteredPlugin {
    /// What the plugin sent while registering.
    pub registration: Registration,
    connection: PluginConnection,
}

impl RegisteredPlugin {
    /// The connection, for passing on.
    pub fn connection(&self) -> &PluginConnection {
        &self.connection
    }
}

impl Deref for RegisteredPlugin {
    type Target = PluginConnection;

    fn deref(&self) -> &PluginConnection {
        &self.connection
    }
}
