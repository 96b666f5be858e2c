//! The local runtime: the daemon starts the plugin as a child process, writes requests to its
//! stdin and reads its stdout (`internal/core/local_runtime`).

use std::ops::Deref;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use super::connection::PluginConnection;
use super::error::DaemonError;
use super::lines::LineReader;

/// `PLUGIN_RUNTIME_MAX_BUFFER_SIZE`: a longer stdout line makes the daemon kill the plugin.
pub const STDOUT_LINE_LIMIT: usize = 5 * 1024 * 1024;

/// How long [`spawn_stdio`] waits for the first heartbeat.
pub const DEFAULT_READY_LIMIT: Duration = Duration::from_secs(30);

/// A plugin process run the way the daemon runs local plugins. Derefs to its
/// [`PluginConnection`]; the process is killed when this is dropped.
pub struct StdioDaemon {
    connection: PluginConnection,
    child: tokio::sync::Mutex<Child>,
    pid: Option<u32>,
    stderr: Arc<Mutex<Vec<u8>>>,
    ready_at: Instant,
}

/// Starts `command` with piped stdin/stdout/stderr and waits up to 30 s for its first
/// heartbeat on stdout, which is when the daemon considers it ready.
pub async fn spawn_stdio(command: Command) -> Result<StdioDaemon, DaemonError> {
    spawn_stdio_within(command, DEFAULT_READY_LIMIT).await
}

/// [`spawn_stdio`] with another readiness limit.
pub async fn spawn_stdio_within(
    mut command: Command,
    ready_within: Duration,
) -> Result<StdioDaemon, DaemonError> {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn()?;
    let pid = child.id();
    let missing = |what: &str| {
        DaemonError::Io(std::io::Error::other(format!(
            "the child's {what} was not piped"
        )))
    };
    let stdin = child.stdin.take().ok_or_else(|| missing("stdin"))?;
    let stdout = child.stdout.take().ok_or_else(|| missing("stdout"))?;
    let mut stderr_pipe = child.stderr.take().ok_or_else(|| missing("stderr"))?;
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let stderr_sink = stderr.clone();
    tokio::spawn(async move {
        let mut chunk = vec![0u8; 8192];
        loop {
            match stderr_pipe.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => stderr_sink
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
            }
        }
    });
    let connection = PluginConnection::start(
        LineReader::new(Box::new(stdout)),
        Box::new(stdin),
        Some(STDOUT_LINE_LIMIT),
        None,
    );
    match connection.wait_for_heartbeats(1, ready_within).await {
        Ok(beats) => {
            let ready_at = beats.first().copied().unwrap_or_else(Instant::now);
            Ok(StdioDaemon {
                connection,
                child: tokio::sync::Mutex::new(child),
                pid,
                stderr,
                ready_at,
            })
        }
        Err(e) => {
            let _ = child.start_kill();
            // Let the process and its stderr drain so the error shows everything it said.
            let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let stderr_text =
                String::from_utf8_lossy(&stderr.lock().unwrap_or_else(|e| e.into_inner()))
                    .into_owned();
            let stdout = connection.lines().iter().map(|line| line.text()).collect();
            Err(DaemonError::NotReady {
                reason: e.to_string(),
                stdout,
                stderr: stderr_text,
            })
        }
    }
}

impl StdioDaemon {
    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// When the first heartbeat arrived.
    pub fn ready_at(&self) -> Instant {
        self.ready_at
    }

    /// Everything the process wrote to stderr so far (lossy text).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    /// Closes the child's stdin, as happens when the daemon goes away.
    pub async fn close_stdin(&self) -> Result<(), DaemonError> {
        self.connection.close_writer().await
    }

    /// Waits up to `limit` for the process to exit; its status if it did.
    pub async fn wait_exit(&self, limit: Duration) -> Option<ExitStatus> {
        let mut child = self.child.lock().await;
        tokio::time::timeout(limit, child.wait()).await.ok()?.ok()
    }

    /// The exit status if the process has exited.
    pub async fn exit_status(&self) -> Option<ExitStatus> {
        self.child.lock().await.try_wait().ok().flatten()
    }

    /// Kills the process and waits for it.
    pub async fn kill(&self) -> Result<(), DaemonError> {
        self.child.lock().await.kill().await?;
        Ok(())
    }

    /// The connection, for passing on.
    pub fn connection(&self) -> &PluginConnection {
        &self.connection
    }
}

impl Deref for StdioDaemon {
    type Target = PluginConnection;

    fn deref(&self) -> &PluginConnection {
        &self.connection
    }
}
