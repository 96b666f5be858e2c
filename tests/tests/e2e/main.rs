//! End-to-end tests: the examples and test guests, built for wasm32-wasip2, run in the host
//! library on the embedded local backend.

mod common;
mod invoke;
mod loading;
mod messages;
mod sandbox;
mod streaming;
