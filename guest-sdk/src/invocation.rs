//! The context of the call being served: Dify's `self.runtime` and `self.session` fields.

use std::cell::Cell;
use std::fmt;

use crate::bindings::exports::dify::plugin::tool_provider as wit;

/// How the credentials handed to a call were obtained (Dify's `CredentialType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialType {
    /// Entered by the user in the provider's credential form (`api-key`).
    ApiKey,
    /// Obtained through the provider's OAuth flow (`oauth2`).
    OAuth2,
    /// No credentials are configured (`unauthorized`).
    Unauthorized,
}

impl CredentialType {
    /// Dify's name for it: `api-key`, `oauth2` or `unauthorized`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api-key",
            Self::OAuth2 => "oauth2",
            Self::Unauthorized => "unauthorized",
        }
    }
}

impl fmt::Display for CredentialType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<wit::CredentialType> for CredentialType {
    fn from(t: wit::CredentialType) -> Self {
        match t {
            wit::CredentialType::ApiKey => Self::ApiKey,
            wit::CredentialType::Oauth2 => Self::OAuth2,
            wit::CredentialType::Unauthorized => Self::Unauthorized,
        }
    }
}

/// Where the current call comes from, as Dify sent it: what a Python tool reads from
/// `self.runtime` (`credential_type`, `user_id`) and `self.session` (`app_id`,
/// `conversation_id`, `message_id`). Each field is `None` when Dify did not send it.
///
/// Read it with [`invocation`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Invocation {
    /// How the call's credentials were obtained.
    pub credential_type: Option<CredentialType>,
    /// The Dify end user; may be empty.
    pub user_id: Option<String>,
    /// The app the tool runs in.
    pub app_id: Option<String>,
    /// The conversation of a chat app.
    pub conversation_id: Option<String>,
    /// The message being answered in a chat app.
    pub message_id: Option<String>,
}

impl Invocation {
    pub(crate) fn from_wit(
        credential_type: Option<wit::CredentialType>,
        context: wit::InvokeContext,
    ) -> Self {
        Self {
            credential_type: credential_type.map(CredentialType::from),
            user_id: context.user_id,
            app_id: context.app_id,
            conversation_id: context.conversation_id,
            message_id: context.message_id,
        }
    }

    pub(crate) fn with_credential_type(credential_type: Option<wit::CredentialType>) -> Self {
        Self {
            credential_type: credential_type.map(CredentialType::from),
            ..Self::default()
        }
    }
}

thread_local! {
    /// The context of the call being served. The host runs every call in a fresh instance and
    /// a component is never re-entered, so one value per instance is exactly one per call; a
    /// thread-local (one thread in wasm) also keeps the SDK's native tests apart.
    static CURRENT: Cell<Option<Invocation>> = const { Cell::new(None) };
}

/// The context of the call being served, like `self.runtime` and `self.session` of a Python
/// tool: who calls, from which app and conversation, and how the credentials were obtained.
///
/// During [`crate::Plugin::invoke`] it holds everything Dify sent; during
/// [`crate::Plugin::fetch_parameter_options`] only the credential type (Dify sends no more);
/// during the other actions, and outside any call, every field is `None`.
///
/// ```no_run
/// # use dify_plugin::{Error, Output};
/// fn whoami(output: &Output) -> Result<(), Error> {
///     let call = dify_plugin::invocation();
///     output.text(format!("hello, {}", call.user_id.as_deref().unwrap_or("stranger")))
/// }
/// ```
pub fn invocation() -> Invocation {
    CURRENT.with(|current| {
        let value = current.take();
        let copy = value.clone();
        current.set(value);
        copy.unwrap_or_default()
    })
}

/// Makes `invocation` the current one until the returned guard is dropped, then restores the
/// previous one (none, in a component).
pub(crate) fn enter(invocation: Invocation) -> Entered {
    Entered {
        previous: CURRENT.with(|current| current.replace(Some(invocation))),
    }
}

/// Restores the previous context when the call ends, however it ends.
pub(crate) struct Entered {
    previous: Option<Invocation>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|current| current.set(previous));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_lasts_exactly_as_long_as_the_call() {
        assert_eq!(invocation(), Invocation::default());
        {
            let _call = enter(Invocation {
                user_id: Some("u-1".into()),
                ..Invocation::default()
            });
            assert_eq!(invocation().user_id.as_deref(), Some("u-1"));
            // Reading does not consume it.
            assert_eq!(invocation().user_id.as_deref(), Some("u-1"));
        }
        assert_eq!(invocation(), Invocation::default());
    }

    #[test]
    fn credential_types_use_difys_names() {
        assert_eq!(CredentialType::ApiKey.to_string(), "api-key");
        assert_eq!(CredentialType::OAuth2.to_string(), "oauth2");
        assert_eq!(CredentialType::Unauthorized.to_string(), "unauthorized");
    }
}
