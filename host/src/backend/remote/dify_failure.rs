//! Dify's failure answers (`{"code", "message", "status"}` with a non-200 status) as typed
//! errors. Both remote backends meet them: directly from the Dify API, or forwarded by the
//! plugin daemon inside an `error` event.

use crate::error::ToolError;
use crate::wire::inner_api::ErrorBody;

/// A failure answer as a typed error that keeps Dify's code and message. `api` names the
/// service in messages, such as "the Dify API at http://api:5001/…".
pub(crate) fn dify_status_error(status: u16, body: ErrorBody, api: &str) -> ToolError {
    let said = body
        .message
        .clone()
        .unwrap_or_else(|| "no explanation".into());
    let code = body.code.clone().unwrap_or_else(|| "no code".into());
    match status {
        // Dify answers 400 `invalid_param` both for what does not exist (tenant, provider,
        // tool) and for parameters that do not fit; only its text tells them apart, and
        // "tool parameter x not found in tool config" is about parameters.
        400 => {
            let text = format!("{said} ({api} answered HTTP 400 `{code}`)");
            let lower = said.to_lowercase();
            let about_parameters = [
                "invalid payload",
                "tool parameter",
                "the tool parameter value",
                "invalid json",
            ]
            .iter()
            .any(|p| lower.starts_with(p));
            if !about_parameters && lower.contains("not found") {
                ToolError::NotFound(text)
            } else {
                ToolError::InvalidParameters(text)
            }
        }
        404 => ToolError::BackendFailed {
            status: Some(404),
            code: body.code,
            message: format!(
                "{api} answered 404 Not Found ({said}): the inner API key is wrong or missing (it must equal the Dify API's INNER_API_KEY_FOR_PLUGIN), or the URL is not the Dify API's"
            ),
        },
        429 => ToolError::RateLimited(format!(
            "{said} ({api} answered HTTP 429 `{code}`); retry later or raise the workspace's quota"
        )),
        _ => ToolError::BackendFailed {
            status: Some(status),
            code: body.code,
            message: format!("{said} (from {api})"),
        },
    }
}
