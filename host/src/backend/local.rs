//! The embedded local backend: needs no Dify. Builtin tools are served by plugin components
//! registered under Dify-style provider ids, each call in its own sandboxed instance; any tool
//! type can also be answered from recorded fixtures.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use futures::StreamExt;
use serde_json::{Map, Value};

use crate::backend::{MessageStream, ToolBackend, ToolRequest, provider_id};
use crate::contract::ToolType;
use crate::error::ToolError;
use crate::runtime::Runtime;
use crate::runtime::invocation::ToolCall;
use crate::runtime::plugin::Plugin;
use crate::session::SessionContext;
use crate::wire::fixtures::{Fixture, Fixtures};

struct LocalProvider {
    plugin: Plugin,
    credentials: Map<String, Value>,
}

/// Serves tool calls from registered plugins and fixtures.
pub struct LocalBackend {
    runtime: Runtime,
    providers: BTreeMap<String, LocalProvider>,
    fixtures: Fixtures,
    /// Nested calls of the plugins this backend runs come back to this backend.
    this: Weak<LocalBackend>,
}

/// Collects the plugins and fixtures of a [`LocalBackend`].
pub struct LocalBackendBuilder {
    runtime: Runtime,
    providers: BTreeMap<String, LocalProvider>,
    fixtures: Fixtures,
}

impl LocalBackend {
    /// Starts a backend whose plugins run in `runtime`.
    pub fn builder(runtime: &Runtime) -> LocalBackendBuilder {
        LocalBackendBuilder {
            runtime: runtime.clone(),
            providers: BTreeMap::new(),
            fixtures: Fixtures::default(),
        }
    }
}

impl LocalBackendBuilder {
    /// Serves builtin provider `provider_id` (`org/plugin/provider`, or a bare name for
    /// `langgenius/name/name`) with `plugin`. Fails on a malformed id.
    pub fn plugin(mut self, provider_id: &str, plugin: Plugin) -> Result<Self, ToolError> {
        let id = provider_id::normalize(provider_id)?;
        self.providers.insert(
            id,
            LocalProvider {
                plugin,
                credentials: Map::new(),
            },
        );
        Ok(self)
    }

    /// The credentials handed to the plugin serving `provider_id`, as Dify hands a provider's
    /// credentials to its tools. Fails when no plugin serves that provider.
    pub fn credentials(
        mut self,
        provider_id: &str,
        credentials: Map<String, Value>,
    ) -> Result<Self, ToolError> {
        let id = provider_id::normalize(provider_id)?;
        match self.providers.get_mut(&id) {
            Some(p) => {
                p.credentials = credentials;
                Ok(self)
            }
            None => Err(ToolError::NotFound(format!(
                "no plugin serves provider `{id}`; register it before its credentials"
            ))),
        }
    }

    /// Adds recorded answers; plugins take precedence for builtin tools they serve.
    pub fn fixtures(mut self, fixtures: Fixtures) -> Self {
        self.fixtures.extend(fixtures);
        self
    }

    /// The backend, shared.
    pub fn build(self) -> Arc<LocalBackend> {
        Arc::new_cyclic(|this| LocalBackend {
            runtime: self.runtime,
            providers: self.providers,
            fixtures: self.fixtures,
            this: this.clone(),
        })
    }
}

fn replay(fixture: &Fixture) -> Result<MessageStream, ToolError> {
    if fixture.fails_at_start
        && let Some(error) = &fixture.error
    {
        return Err(error.clone());
    }
    let messages = fixture.messages.clone().into_iter().map(Ok);
    let failure = fixture.error.clone().map(Err);
    Ok(futures::stream::iter(messages.chain(failure)).boxed())
}

#[async_trait::async_trait]
impl ToolBackend for LocalBackend {
    async fn invoke(
        &self,
        session: &SessionContext,
        request: ToolRequest,
    ) -> Result<MessageStream, ToolError> {
        let provider = if request.tool_type == ToolType::Builtin {
            provider_id::normalize(&request.provider)?
        } else {
            request.provider.clone()
        };
        if request.tool_type == ToolType::Builtin
            && let Some(local) = self.providers.get(&provider)
        {
            let backend: Arc<dyn ToolBackend> = self.this.upgrade().ok_or_else(|| {
                ToolError::BackendUnreachable("the local backend is shutting down".into())
            })?;
            let call = ToolCall::new(request.tool, request.parameters)
                .with_credentials(local.credentials.clone());
            let stream = self
                .runtime
                .invoke(&local.plugin, call, session.clone(), backend);
            return Ok(stream.boxed());
        }
        if let Some(fixture) = self.fixtures.find(
            request.tool_type,
            &provider,
            &request.tool,
            &request.parameters,
        ) {
            return replay(fixture);
        }
        Err(ToolError::NotFound(format!(
            "the local backend has no plugin or fixture for {} tool `{}` of provider `{provider}`; register a plugin (CLI --plugin {provider}=PLUGIN.wasm) or record a fixture (CLI --fixtures FILE)",
            request.tool_type, request.tool
        )))
    }
}
