//! End-to-end tests: the examples and test guests, built for wasm32-wasip2, run in the host
//! library on the embedded local backend, and on the Dify API and plugin daemon backends
//! against real HTTP servers on 127.0.0.1.

mod common;
mod contract_versions;
mod daemon;
mod exact_numbers;
mod guest_logs;
mod hardening;
mod host_edges;
mod inner_api;
mod invoke;
mod loading;
mod memory;
mod messages;
mod outbound_http;
mod recording;
mod remote;
mod sandbox;
mod serve_remote;
mod serve_serverless;
mod streaming;
