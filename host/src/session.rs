//! Who an invocation runs for. Set by the host for each invocation; a plugin can read none of
//! it and change none of it.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::runtime::invocation_tree::InvocationTree;

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
    /// The top-level invocation this one is part of, once the runtime started it.
    pub(crate) tree: TreeLink,
}

/// The host's bookkeeping of the invocation a session belongs to. Not part of who the call is
/// for: sessions compare equal whatever their tree.
#[derive(Clone, Default)]
pub(crate) struct TreeLink(pub(crate) Option<Arc<InvocationTree>>);

impl PartialEq for TreeLink {
    fn eq(&self, _: &TreeLink) -> bool {
        true
    }
}

impl Eq for TreeLink {}

impl std::fmt::Debug for TreeLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "TreeLink(..)"
        } else {
            "TreeLink(None)"
        })
    }
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
