//! The raw wit-bindgen bindings of the `dify:plugin/tool-plugin@0.2.0` world.
//!
//! Kept apart and hidden so that the public API stays plain Rust: plugin authors never see a
//! generated type, and a change in wit-bindgen's output stays inside this crate.

wit_bindgen::generate!({
    path: "../wit/0.2.0",
    world: "tool-plugin",
    pub_export_macro: true,
    export_macro_name: "export",
    default_bindings_module: "$crate::bindings",
    // Lets the SDK's tests compare what the dispatcher hands back to the host.
    additional_derives: [PartialEq],
});
