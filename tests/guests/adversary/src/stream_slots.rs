//! `stream_slots`: keeps the handles of streams it has read to their end, as a JavaScript plugin
//! that never disposes them does, and holds unfinished ones, to show which of them take one of
//! the instance's open-stream slots.
//!
//! Works through the raw WIT resource: the SDK's `MessageStream` drops its handle as soon as the
//! stream ends, which is exactly what such a plugin does not do.

use dify_plugin::bindings::dify::plugin::tool as wit_tool;
use dify_plugin::serde_json::Value;
use dify_plugin::{Error, JsonObject, Output, optional_param, param};

/// Opens `hold_first` streams it never reads; then makes `finished` calls one after the
/// other, reading each to its end and keeping its handle (or dropping it when `drop_finished`);
/// then opens up to `then_hold` more unread streams. Emits `finished N, F failed` after the
/// calls (F of them ended with an error), and
/// `refused after K` with the host's refusal, which it returns, when an unread stream is
/// refused (`held K` when none was).
pub fn stream_slots(parameters: &Value, output: &Output) -> Result<(), Error> {
    let provider: String = param(parameters, "provider")?;
    let tool: String = param(parameters, "tool")?;
    let tool_parameters: JsonObject = param(parameters, "parameters")?;
    let tool_parameters = Value::Object(tool_parameters).to_string();
    let hold_first: u32 = optional_param(parameters, "hold_first")?.unwrap_or(0);
    let finished: u32 = param(parameters, "finished")?;
    let drop_finished: bool = optional_param(parameters, "drop_finished")?.unwrap_or(false);
    let then_hold: u32 = optional_param(parameters, "then_hold")?.unwrap_or(0);
    let call = || wit_tool::invoke_builtin_tool(&provider, &tool, &tool_parameters);

    let mut unread = Vec::new();
    for _ in 0..hold_first {
        unread.push(call().map_err(Error::from)?);
    }
    let mut kept = Vec::new();
    let mut failed = 0;
    for _ in 0..finished {
        let stream = call().map_err(Error::from)?;
        loop {
            match stream.next_batch(64) {
                Ok(batch) if batch.finished => break,
                Ok(_) => {}
                Err(_) => {
                    failed += 1;
                    break;
                }
            }
        }
        // Asked again at its end (or after its error), the stream says it is over.
        if stream.next().map_err(Error::from)?.is_some() {
            return Err(Error::tool_failed("a finished stream yielded a message"));
        }
        if !drop_finished {
            kept.push(stream);
        }
    }
    output.text(format!("finished {finished}, {failed} failed"))?;
    let mut held = 0;
    for _ in 0..then_hold {
        match call() {
            Ok(stream) => {
                unread.push(stream);
                held += 1;
            }
            Err(e) => {
                output.text(format!("refused after {held}"))?;
                return Err(Error::from(e));
            }
        }
    }
    output.text(format!("held {held}"))
}
