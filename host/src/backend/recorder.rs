//! Recording: wraps any backend and writes every answer it gives (messages, and the typed error
//! of a failed call or stream) as a fixtures file, so a plugin's tests can replay real answers
//! offline on the local backend.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};

use crate::backend::{MessageStream, ToolBackend, ToolRequest, provider_id};
use crate::contract::{ToolInvokeMessage, ToolType};
use crate::error::ToolError;
use crate::session::SessionContext;
use crate::wire::fixtures::{Fixture, Fixtures, FixturesError};

/// Passes calls to another backend and records what each stream delivered.
pub struct RecordingBackend {
    inner: Arc<dyn ToolBackend>,
    shared: Arc<Recorded>,
}

struct Recorded {
    path: PathBuf,
    fixtures: Mutex<Fixtures>,
}

impl Recorded {
    fn add(&self, fixture: Fixture) {
        let mut fixtures = self.fixtures.lock().unwrap_or_else(PoisonError::into_inner);
        fixtures.push(fixture);
        // Written after every stream so a crash loses nothing already answered.
        if let Err(e) = write(&self.path, &fixtures) {
            tracing::warn!("{e}");
        }
    }
}

fn write(path: &Path, fixtures: &Fixtures) -> Result<(), FixturesError> {
    let io = |source| FixturesError::Io {
        path: path.display().to_string(),
        source,
    };
    let text = fixtures.to_json().map_err(|e| FixturesError::Malformed {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    std::fs::write(&tmp, text + "\n").map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

impl RecordingBackend {
    /// Records the streams of `inner` into the fixtures file `path`, replacing it.
    pub fn new(inner: Arc<dyn ToolBackend>, path: impl Into<PathBuf>) -> Arc<RecordingBackend> {
        Arc::new(RecordingBackend {
            inner,
            shared: Arc::new(Recorded {
                path: path.into(),
                fixtures: Mutex::new(Fixtures::default()),
            }),
        })
    }

    /// What has been recorded so far: the streams that have ended or were dropped.
    pub fn recorded(&self) -> Fixtures {
        self.shared
            .fixtures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Writes the file now, even when nothing was recorded; reports a failure to write.
    pub fn save(&self) -> Result<(), FixturesError> {
        let fixtures = self
            .shared
            .fixtures
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        write(&self.shared.path, &fixtures)
    }
}

#[async_trait::async_trait]
impl ToolBackend for RecordingBackend {
    async fn invoke(
        &self,
        session: &SessionContext,
        request: ToolRequest,
    ) -> Result<MessageStream, ToolError> {
        let provider = match request.tool_type {
            // Recorded as the local backend will look it up.
            ToolType::Builtin => provider_id::normalize(&request.provider)
                .unwrap_or_else(|_| request.provider.clone()),
            _ => request.provider.clone(),
        };
        let mut fixture = Fixture {
            tool_type: request.tool_type,
            provider,
            tool: request.tool.clone(),
            parameters: Some(request.parameters.clone()),
            messages: Vec::new(),
            error: None,
            fails_at_start: false,
        };
        let stream = match self.inner.invoke(session, request).await {
            Ok(stream) => stream,
            Err(e) => {
                // Recorded too: a plugin's tests need its error paths as much as its answers.
                fixture.error = Some(e.clone());
                fixture.fails_at_start = true;
                self.shared.add(fixture);
                return Err(e);
            }
        };
        Ok(Tap {
            stream,
            fixture: Some(fixture),
            shared: self.shared.clone(),
        }
        .boxed())
    }
}

/// A stream that copies what passes through into a fixture, stored when the stream ends or
/// is dropped.
struct Tap {
    stream: MessageStream,
    fixture: Option<Fixture>,
    shared: Arc<Recorded>,
}

impl Tap {
    fn store(&mut self) {
        if let Some(fixture) = self.fixture.take() {
            self.shared.add(fixture);
        }
    }

    fn keep(&mut self, item: &Result<ToolInvokeMessage, ToolError>) {
        let Some(fixture) = self.fixture.as_mut() else {
            return;
        };
        match item {
            Ok(message) => fixture.messages.push(message.clone()),
            Err(e) => fixture.error = Some(e.clone()),
        }
    }
}

impl Stream for Tap {
    type Item = Result<ToolInvokeMessage, ToolError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.stream.poll_next_unpin(cx);
        match &polled {
            Poll::Ready(Some(item)) => {
                self.keep(item);
                if item.is_err() {
                    self.store();
                }
            }
            Poll::Ready(None) => self.store(),
            Poll::Pending => {}
        }
        polled
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        if let Some(fixture) = &self.fixture {
            tracing::warn!(
                "recording {} tool `{}` of provider `{}`: the stream was dropped after {} messages; the recording keeps only those",
                fixture.tool_type,
                fixture.tool,
                fixture.provider,
                fixture.messages.len()
            );
        }
        self.store();
    }
}
