//! What keeping numbers exact costs the decoders and encoders: inner-API frame payloads to typed
//! messages, and messages to Dify JSON by both encoders, for ~100-byte `text` frames (the
//! remote bench's workload) and ~350-byte `json` frames carrying 16 numbers, 13 of them not
//! 64-bit integers (Python's spelling: `, ` and `: ` separators). Run with
//! `cargo run --release -p dify-plugin-protocol --example number_codec`; the figures with
//! serde_json's `arbitrary_precision` on and off are in BENCHMARKS.md ("Exact numbers").

use dify_plugin_protocol::wire::dify_json::{encode_dify_json, from_dify_json, to_dify_json};
use dify_plugin_protocol::wire::inner_api::parse_frame_payload;
use serde_json::Value;
use std::time::Instant;

fn text(i: usize) -> String {
    format!(
        r#"{{"data": {{"type": "text", "message": {{"text": "message number {i}"}}, "meta": null}}, "error": ""}}"#
    )
}
/// A number-heavy json message as Dify (Python) writes it: ints, floats, scores.
fn numbers(i: usize) -> String {
    format!(
        r#"{{"data": {{"type": "json", "message": {{"json_object": {{"id": {i}, "count": 42, "ratio": 0.{i}17, "big": 18446744073709551616, "score": 2.0999999999999998e+306, "xs": [1.5, 2.25, -0.0, {i}, 3.141592653589793, 1e-07, 12345678901234567890123, 0.1, 0.2, 0.30000000000000004]}}, "suppress_output": false}}, "meta": {{"elapsed": 0.{i}3}}}}, "error": ""}}"#
    )
}

fn run(label: &str, docs: &[String], reps: usize) {
    let bytes: usize = docs.iter().map(String::len).sum();
    // Inner API frame payload: bytes -> typed message.
    let mut best = f64::MAX;
    for _ in 0..reps {
        let t = Instant::now();
        let mut n = 0;
        for d in docs {
            if parse_frame_payload(d.as_bytes()).is_ok() {
                n += 1;
            }
        }
        assert_eq!(n, docs.len());
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{label:<8} parse_frame_payload        {:>9.0} msg/s {:>6.1} MiB/s",
        docs.len() as f64 / best,
        bytes as f64 / best / 1048576.0
    );
    let msgs: Vec<_> = docs
        .iter()
        .map(|d| from_dify_json(&serde_json::from_str::<Value>(d).unwrap()["data"]).unwrap())
        .collect();
    let mut best = f64::MAX;
    for _ in 0..reps {
        let t = Instant::now();
        let mut total = 0;
        for m in &msgs {
            total += encode_dify_json(m).unwrap().len();
        }
        assert!(total > 0);
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{label:<8} encode_dify_json (stream)  {:>9.0} msg/s",
        docs.len() as f64 / best
    );
    let mut best = f64::MAX;
    for _ in 0..reps {
        let t = Instant::now();
        let mut total = 0;
        for m in &msgs {
            total += to_dify_json(m).unwrap().to_string().len();
        }
        assert!(total > 0);
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{label:<8} to_dify_json().to_string() {:>9.0} msg/s",
        docs.len() as f64 / best
    );
}

fn main() {
    let n = 100_000;
    let texts: Vec<String> = (0..n).map(text).collect();
    let nums: Vec<String> = (0..n).map(numbers).collect();
    let v: Value = serde_json::from_str(&nums[7]).unwrap();
    let exact = serde_json::to_string(&serde_json::from_str::<Value>("1.10").ok())
        .is_ok_and(|t| t == "1.10");
    println!(
        "serde_json arbitrary_precision: {exact}; a message's json_object comes out as {}",
        v["data"]["message"]["json_object"]
    );
    run("text", &texts, 5);
    run("numbers", &nums, 5);
}
