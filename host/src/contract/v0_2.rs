//! `dify:plugin@0.2.0`, the newest contract: the whole tool-provider interface Dify calls.

// The generated bindings carry the WIT's own comments where it has them; the rest of the
// crate is held to documenting every public item.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit/0.2.0",
    world: "tool-plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "dify:plugin/types": crate::contract::types,
        "dify:plugin/tool.message-stream": crate::runtime::message_stream::HostMessageStream,
    },
});
