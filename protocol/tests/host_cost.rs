//! Peak heap of converting a message to Dify's JSON, measured with a counting allocator:
//! through `serde_json::Value` (`to_dify_json`) and straight to text (`encode_dify_json`), and
//! checked against `ToolInvokeMessage::host_cost`, the estimate the host charges a plugin.
//!
//! `cargo test -p dify-plugin-protocol --test host_cost -- --nocapture` prints the figures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use dify_plugin_protocol::message::{
    JsonMessage, MessagePayload, RetrieverResource, RetrieverResourcesMessage, ToolInvokeMessage,
};
use dify_plugin_protocol::wire::dify_json::{encode_dify_json, measure, to_dify_json};

/// Counts the heap of the measuring thread only: the test harness allocates on its own threads
/// meanwhile.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static MEASURED: Cell<bool> = const { Cell::new(false) };
}

fn grow(bytes: usize) {
    if MEASURED.with(Cell::get) {
        let now = CURRENT.fetch_add(bytes, Relaxed) + bytes;
        PEAK.fetch_max(now, Relaxed);
    }
}

fn shrink(bytes: usize) {
    if MEASURED.with(Cell::get) {
        CURRENT.fetch_sub(bytes, Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrink(layout.size());
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A realloc may hold both blocks at once: count the new one before freeing the old.
        grow(new_size);
        shrink(layout.size());
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes `f` held at its peak, beyond what was held before it ran (its result included).
fn peak_of<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = CURRENT.load(Relaxed);
    PEAK.store(before, Relaxed);
    let out = f();
    (PEAK.load(Relaxed) - before, out)
}

/// Measures one message; `through_value` also measures the `Value` path (which may peak at
/// many times the text: off for the largest case, whose figure is in BENCHMARKS.md).
fn case(name: &str, through_value: bool, build: impl FnOnce() -> ToolInvokeMessage) {
    let before = CURRENT.load(Relaxed);
    let msg = build();
    let held = CURRENT.load(Relaxed) - before;
    let value_peak = through_value.then(|| {
        let (peak, text) = peak_of(|| to_dify_json(&msg).map(|v| v.to_string()).expect("converts"));
        drop(text);
        peak
    });
    let (text_peak, text) = peak_of(|| encode_dify_json(&msg).expect("encodes"));
    if let Some(value_peak) = value_peak {
        assert!(text.len() <= value_peak);
    }
    let cost = msg.host_cost();
    // What the encoder writes before it merges repeated keys away.
    let written = measure(&msg).expect("measures").text_len;
    println!(
        "{name}: counted {} B, held {held} B, text {} B; peak via Value {value_peak:?} B, \
         streamed {text_peak} B; host_cost {cost} B",
        msg.content_size(),
        text.len()
    );
    assert!(
        cost >= held + text_peak,
        "{name}: host_cost {cost} < held {held} + conversion peak {text_peak}"
    );
    assert!(
        // The text, and for key-dense objects the encoder's stack of open keys (8 bytes a key).
        text_peak <= 3 * written + 4096,
        "{name}: streaming conversion peaked at {text_peak} B for {written} B written"
    );
}

fn json(text: String) -> ToolInvokeMessage {
    ToolInvokeMessage {
        payload: MessagePayload::Json(JsonMessage {
            json_object: text,
            suppress_output: None,
        }),
        meta: None,
    }
}

#[test]
fn converting_costs_no_more_than_host_cost() {
    // Only this thread's allocations are counted, and everything it frees was counted: each
    // case builds and drops its message while measured.
    MEASURED.with(|m| m.set(true));
    let resources = |n| ToolInvokeMessage {
        payload: MessagePayload::RetrieverResources(RetrieverResourcesMessage {
            retriever_resources: vec![RetrieverResource::default(); n],
            context: String::new(),
        }),
        meta: None,
    };
    case("20 000 empty retriever resources", true, || {
        resources(20_000)
    });
    case("200 000 empty retriever resources", false, || {
        resources(200_000)
    });
    case("json_object of 50 000 empty objects", true, || {
        json(format!("[{}{{}}]", "{},".repeat(49_999)))
    });
    case("json_object of 50 000 distinct keys", true, || {
        let body: Vec<String> = (0..50_000).map(|i| format!("\"{i}\":{i}")).collect();
        json(format!("{{{}}}", body.join(",")))
    });
    case("json_object of 50 000 repeats of one key", true, || {
        json(format!("{{{}\"k\":0}}", "\"k\":[1,2,3],".repeat(49_999)))
    });
    case("json_object of 100 000 numbers 1e15", true, || {
        json(format!("[{}1e15]", "1e15,".repeat(99_999)))
    });
    case("1 MB blob", true, || ToolInvokeMessage {
        payload: MessagePayload::Blob(vec![7; 1 << 20]),
        meta: Some(r#"{"mime_type": "application/octet-stream"}"#.into()),
    });
    case("1 MB of control characters", true, || ToolInvokeMessage {
        payload: MessagePayload::Text("\u{1}".repeat(1 << 20)),
        meta: None,
    });
}
