//! `dify:plugin@0.1.0`, frozen: components built against it keep loading. Its `types` are the
//! 0.2.0 types (identical WIT, both bound onto `dify-plugin-protocol`'s), so only the thin `tool`/`output` adapters in
//! `runtime::host_interfaces` differ.

// Generated bindings; see `v0_2`.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit/0.1.0",
    world: "tool-plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "dify:plugin/types": crate::contract::types,
        "dify:plugin/tool.message-stream": crate::runtime::message_stream::HostMessageStream,
    },
});
