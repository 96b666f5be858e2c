//! Who an invocation runs for. Set by the host for each invocation; a plugin can read none of
//! it and change none of it.

use std::collections::BTreeMap;

/// The Dify session an invocation belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionContext {
    /// The Dify workspace (tenant).
    pub tenant_id: String,
    /// The end user; empty means Dify's anonymous default user.
    pub user_id: String,
    /// The app the invocation comes from, when there is one.
    pub app_id: Option<String>,
    /// Credential id to use per provider; a provider without one uses the tenant's default.
    pub credential_ids: BTreeMap<String, String>,
    /// How many plugin-to-plugin calls lead to this invocation (0 for the host's own call).
    pub(crate) depth: u32,
}

impl SessionContext {
    /// A session for `tenant_id` and `user_id`, with no app and no credential ids.
    pub fn new(tenant_id: impl Into<String>, user_id: impl Into<String>) -> Self {
        SessionContext {
            tenant_id: tenant_id.into(),
            user_id: user_id.into(),
            ..SessionContext::default()
        }
    }

    /// How many plugin-to-plugin calls lead to this invocation.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// The same session one plugin-to-plugin call deeper.
    pub(crate) fn nested(&self) -> SessionContext {
        SessionContext {
            depth: self.depth + 1,
            ..self.clone()
        }
    }
}
