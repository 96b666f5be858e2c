//! Tests of reading, converting and checking whole plugin directories.

mod assets;
mod daemon;
mod examples;
mod fixture;
mod manifest_rules;
mod provider_rules;
mod robustness;
mod tool_rules;
mod transcript;
