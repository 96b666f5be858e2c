//! Aggregator: the three reasons Dify gives for a plugin to call other tools, in one tool.
//!
//! `digest` with `{"query": str, "scraper": "workflow"|"api"|"auto"}` (default `"auto"`):
//! 1. **Post-processes another tool's result**: asks the showcase plugin's `keywords` tool for
//!    the query's words, then lowercases them, drops repeats (first seen wins) and keeps five.
//! 2. **Chooses between scraping services**: a workflow published as a tool, or a custom
//!    (OpenAPI) tool; `"auto"` tries the workflow and falls back to the API tool when the
//!    workflow fails, at the start or midway.
//! 3. **Merges the results**: a one-line text summary, then one json message
//!    `{"query", "keywords", "scraper", "pages", "fallback_reason"}`.
//!
//! `fixtures.json` next to this file answers both scrapers for local runs.

use dify_plugin::serde_json::{Value, json};
use dify_plugin::{Error, Message, MessageStream, Output, Plugin, optional_param, param, tool};

/// The plugin tool whose result is post-processed.
const KEYWORDS_PROVIDER: &str = "langgenius/showcase/showcase";
/// The tool name of [`KEYWORDS_PROVIDER`] that extracts words.
const KEYWORDS_TOOL: &str = "keywords";
/// Workflow-as-tool scraper: its provider id, as Dify shows it on the tool page.
const WORKFLOW_PROVIDER: &str = "0b4f8d6a-6f4a-4c3e-9b8e-2d7f1c9a5e31";
/// The tool name given when the workflow was published as a tool.
const WORKFLOW_TOOL: &str = "scrape";
/// Custom (OpenAPI) scraper: its provider id.
const API_PROVIDER: &str = "7e2c4b1d-3a5f-4e8b-a1c9-6d0f2e8b4a77";
/// The `operation_id` of the API scraper.
const API_TOOL: &str = "scrape_page";
/// How many keywords the digest keeps.
const MAX_KEYWORDS: usize = 5;

struct Aggregator;

impl Plugin for Aggregator {
    fn invoke(
        tool: &str,
        parameters: Value,
        _credentials: Value,
        output: &Output,
    ) -> Result<(), Error> {
        match tool {
            "digest" => digest(&parameters, output),
            other => Err(Error::unknown_tool(other)),
        }
    }
}

dify_plugin::export_plugin!(Aggregator);

/// Which scraping service the caller asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scraper {
    Workflow,
    Api,
    Auto,
}

fn digest(parameters: &Value, output: &Output) -> Result<(), Error> {
    let query: String = param(parameters, "query")?;
    let scraper = match optional_param::<String>(parameters, "scraper")?.as_deref() {
        None | Some("auto") => Scraper::Auto,
        Some("workflow") => Scraper::Workflow,
        Some("api") => Scraper::Api,
        Some(other) => {
            return Err(Error::invalid_parameters(format!(
                "parameter `scraper` must be \"workflow\", \"api\" or \"auto\", not {other:?}"
            )));
        }
    };

    let keywords = keywords(&query)?;
    let scrape_params = json!({ "query": query });
    let (used, pages, fallback_reason) = match scraper {
        Scraper::Workflow => ("workflow", scrape_workflow(&scrape_params)?, None),
        Scraper::Api => ("api", scrape_api(&scrape_params)?, None),
        Scraper::Auto => match scrape_workflow(&scrape_params) {
            Ok(pages) => ("workflow", pages, None),
            Err(e) => ("api", scrape_api(&scrape_params)?, Some(e.to_string())),
        },
    };

    let mut summary = format!(
        "{} keyword(s) and {} page(s) for {query:?} from the {used} scraper",
        keywords.len(),
        pages.len()
    );
    if let Some(reason) = &fallback_reason {
        summary.push_str(&format!(" (workflow failed: {reason})"));
    }
    output.text(summary)?;
    output.json(json!({
        "query": query,
        "keywords": keywords,
        "scraper": used,
        "pages": pages,
        "fallback_reason": fallback_reason,
    }))
}

/// The showcase tool returns every word as written; a digest wants a few distinct ones.
fn keywords(query: &str) -> Result<Vec<String>, Error> {
    let stream =
        tool::invoke_builtin_tool(KEYWORDS_PROVIDER, KEYWORDS_TOOL, &json!({ "text": query }))?;
    let mut raw = None;
    for message in stream {
        if let Message::Json { object, .. } = message?.message
            && let Some(Value::Array(words)) = object.get("keywords")
        {
            raw = Some(words.clone());
        }
    }
    let words = raw.ok_or_else(|| {
        Error::tool_failed(format!(
            "{KEYWORDS_PROVIDER}/{KEYWORDS_TOOL} answered without a `keywords` list"
        ))
    })?;
    let mut kept: Vec<String> = Vec::new();
    for word in words.iter().filter_map(Value::as_str) {
        let word = word.to_lowercase();
        if !kept.contains(&word) {
            kept.push(word);
            if kept.len() == MAX_KEYWORDS {
                break;
            }
        }
    }
    Ok(kept)
}

fn scrape_workflow(parameters: &Value) -> Result<Vec<String>, Error> {
    page_texts(tool::invoke_workflow_tool(
        WORKFLOW_PROVIDER,
        WORKFLOW_TOOL,
        parameters,
    )?)
}

fn scrape_api(parameters: &Value) -> Result<Vec<String>, Error> {
    page_texts(tool::invoke_api_tool(API_PROVIDER, API_TOOL, parameters)?)
}

/// A scraper answers with one text message per page; anything else it sends is not a page. A
/// failure midway discards the pages already read, so a fallback starts from a clean slate.
fn page_texts(stream: MessageStream) -> Result<Vec<String>, Error> {
    let mut pages = Vec::new();
    for message in stream {
        if let Message::Text(text) = message?.message {
            pages.push(text);
        }
    }
    Ok(pages)
}
