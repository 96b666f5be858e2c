//! The WIT `dify:plugin/types` interface (identical in 0.1.0 and 0.2.0), bound onto
//! `dify-plugin-protocol`'s message types: both `bindgen!` calls map the interface here, so a
//! message lifted from a plugin is the value the wire formats read, with no conversion.
//!
//! The interface has no functions; the traits and linker functions below are what the
//! generated world code expects of any `types` module.

// The shape of these items is dictated by the generated code.
#![allow(missing_docs)]

pub use dify_plugin_protocol::message::{
    BackendFailure, BlobChunkMessage, FileMessage, InvokeError, Json, JsonMessage, LogMessage,
    LogStatus, MessagePayload, RetrieverResource, RetrieverResourcesMessage, ToolInvokeMessage,
    VariableMessage,
};

/// The host's side of the interface, with access to the store: nothing to provide.
pub trait HostWithStore<T>: wasmtime::component::HasData {}
impl<H: ?Sized, T> HostWithStore<T> for H where H: wasmtime::component::HasData {}

/// The host's side of the interface: nothing to provide.
pub trait Host {}
impl<H: Host + ?Sized> Host for &mut H {}

/// Adds the (empty) interface to a linker instance.
pub fn add_to_linker_instance<T, D>(
    _inst: &mut wasmtime::component::LinkerInstance<'_, T>,
    _host_getter: fn(&mut T) -> D::Data<'_>,
) -> wasmtime::Result<()>
where
    D: HostWithStore<T>,
    for<'a> D::Data<'a>: Host,
    T: 'static,
{
    Ok(())
}

/// Adds the (empty) interface to a linker.
pub fn add_to_linker<T, D>(
    linker: &mut wasmtime::component::Linker<T>,
    host_getter: fn(&mut T) -> D::Data<'_>,
) -> wasmtime::Result<()>
where
    D: HostWithStore<T>,
    for<'a> D::Data<'a>: Host,
    T: 'static,
{
    let mut inst = linker.instance("dify:plugin/types@0.2.0")?;
    add_to_linker_instance::<T, D>(&mut inst, host_getter)
}
