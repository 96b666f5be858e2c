//! The function URLs: `POST /functions/<id>/invoke?action=…` and `GET /functions/<id>/health`.
//! A function launched by another replica (or before a restart) is loaded from the store on
//! first use; its compiled component comes from the store's compile cache.

use std::path::Path;
use std::sync::Arc;

use dify_plugin_package::COMPONENT_PATH;
use dify_plugin_protocol::declaration;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::routes::{Connector, error};
use crate::manifest::Manifest;
use crate::serve::ServedPlugin;
use crate::serve::http_server::whole_answer;
use crate::serve::serverless::{ServerlessBody, handle_invoke};

/// Loads an extracted package: validated declarations, the component compiled (or taken from
/// the compile cache).
pub(crate) fn load(connector: &Connector, plugin_dir: &Path) -> Result<ServedPlugin, String> {
    let declarations = declaration::load(plugin_dir).map_err(|e| e.to_string())?;
    let manifest = Manifest::load(&plugin_dir.join("manifest.yaml")).map_err(|e| e.to_string())?;
    let http = crate::HttpPolicy::from_plugin_dir(plugin_dir).map_err(|e| e.to_string())?;
    let plugin = connector
        .runtime
        .load_plugin(&plugin_dir.join(COMPONENT_PATH))
        .map_err(|e| e.to_string())?
        .with_manifest(&manifest)
        .with_outbound_http(http);
    Ok(ServedPlugin::declared(
        connector.runtime.clone(),
        plugin,
        &declarations,
    ))
}

/// The function `id`, loaded in this process or from the store; `None` when not launched.
async fn function(
    connector: &Arc<Connector>,
    id: &str,
) -> Result<Option<Arc<ServedPlugin>>, String> {
    if let Some(served) = connector
        .loaded
        .lock()
        .ok()
        .and_then(|l| l.get(id).cloned())
    {
        return Ok(Some(served));
    }
    let Some((record, dir)) = connector.store.find_function(id) else {
        return Ok(None);
    };
    let loader = connector.clone();
    let served = tokio::task::spawn_blocking(move || load(&loader, &dir.join("plugin")))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| {
            format!(
                "cannot load the launched package {}: {e}",
                record.unique_identifier
            )
        })?;
    let served = Arc::new(served);
    if let Ok(mut loaded) = connector.loaded.lock() {
        // Two first requests may both load it; either copy serves.
        loaded
            .entry(id.to_owned())
            .or_insert_with(|| served.clone());
    }
    Ok(Some(served))
}

pub(crate) async fn invoke(
    connector: Arc<Connector>,
    id: &str,
    request: Request<Incoming>,
) -> Response<ServerlessBody> {
    match function(&connector, id).await {
        Ok(Some(served)) => handle_invoke(served, connector.serverless.clone(), request).await,
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            &format!("no launched function `{id}`; launch its package first"),
        ),
        Err(message) => error(StatusCode::INTERNAL_SERVER_ERROR, &message),
    }
}

pub(crate) async fn health(connector: Arc<Connector>, id: &str) -> Response<ServerlessBody> {
    match function(&connector, id).await {
        Ok(Some(_)) => whole_answer(StatusCode::OK, "text/plain; charset=utf-8", "OK"),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            &format!("no launched function `{id}`"),
        ),
        Err(message) => error(StatusCode::INTERNAL_SERVER_ERROR, &message),
    }
}
