//! What a plugin may import, checked before the component is compiled.
//!
//! Compiling a Python or JavaScript component takes 10–30 s; a component that imports something
//! this host does not link would then only fail at instantiation, with wasmtime's "import not
//! defined". Its imports are in the component's header, so they are read first (with
//! `wasmparser`, in milliseconds) and the component is refused at once, naming each missing
//! import and what to change.

use wasmparser::{Chunk, Parser, Payload};

use crate::contract::HOST_INTERFACES;

/// The WASI interfaces the runtime's linker provides: what `wasmtime_wasi::p2::add_to_linker_async`
/// (wasmtime-wasi 48) links, at the version it defines them. An import of any other 0.2.x
/// version matches, as wasmtime's linker matches it (same major and minor, no pre-release).
/// With [`HOST_INTERFACES`], this is everything a plugin may import.
///
/// The one place to change when the linker changes (`runtime/mod.rs`); a test checks this list
/// against the real linker, interface by interface.
// Outbound HTTP (`outbound_http::add_to_linker`): outgoing-handler and types only; a plugin
// is no HTTP server, so `wasi:http/incoming-handler` stays refused.
pub const PROVIDED_WASI: &[&str] = &[
    "wasi:io/error@0.2.12",
    "wasi:io/poll@0.2.12",
    "wasi:io/streams@0.2.12",
    "wasi:clocks/wall-clock@0.2.12",
    "wasi:clocks/monotonic-clock@0.2.12",
    "wasi:filesystem/types@0.2.12",
    "wasi:filesystem/preopens@0.2.12",
    "wasi:random/random@0.2.12",
    "wasi:random/insecure@0.2.12",
    "wasi:random/insecure-seed@0.2.12",
    "wasi:cli/exit@0.2.12",
    "wasi:cli/environment@0.2.12",
    "wasi:cli/stdin@0.2.12",
    "wasi:cli/stdout@0.2.12",
    "wasi:cli/stderr@0.2.12",
    "wasi:cli/terminal-input@0.2.12",
    "wasi:cli/terminal-output@0.2.12",
    "wasi:cli/terminal-stdin@0.2.12",
    "wasi:cli/terminal-stdout@0.2.12",
    "wasi:cli/terminal-stderr@0.2.12",
    "wasi:sockets/network@0.2.12",
    "wasi:sockets/instance-network@0.2.12",
    "wasi:sockets/ip-name-lookup@0.2.12",
    "wasi:sockets/tcp@0.2.12",
    "wasi:sockets/tcp-create-socket@0.2.12",
    "wasi:sockets/udp@0.2.12",
    "wasi:sockets/udp-create-socket@0.2.12",
    "wasi:http/outgoing-handler@0.2.12",
    "wasi:http/types@0.2.12",
];

/// Whether the runtime's linker satisfies an import named `name`: one it defines under that
/// name, or on a compatible version (for 0.x.y: the same 0.x with x > 0; for x.y.z: the same
/// x), neither a pre-release; the rule of wasmtime's linker.
pub fn is_provided(name: &str) -> bool {
    let wanted = track(name);
    PROVIDED_WASI
        .iter()
        .chain(HOST_INTERFACES.iter())
        .any(|provided| {
            *provided == name
                || wanted.is_some_and(|(path, ..)| {
                    provided.starts_with(path) && track(provided) == wanted
                })
        })
}

/// Reads the top-level imports of a component and names those this host does not provide,
/// with what to change. `Ok` when all are provided, and also when the bytes cannot be read
/// this way: the compiler then says what is wrong with them.
pub(crate) fn check(bytes: &[u8]) -> Result<(), String> {
    let Some(imports) = component_imports(bytes) else {
        return Ok(());
    };
    let missing: Vec<&str> = imports
        .iter()
        .map(String::as_str)
        .filter(|name| !is_provided(name))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut hints: Vec<String> = Vec::new();
    for name in &missing {
        let hint = hint(name);
        if !hints.contains(&hint) {
            hints.push(hint);
        }
    }
    Err(format!(
        "it imports `{}`, which this host does not provide (refused before compiling); {}",
        missing.join("`, `"),
        hints.join("; ")
    ))
}

/// What to change about an import this host does not provide.
fn hint(name: &str) -> String {
    let (path, version) = split_version(name);
    let provided_dify = || {
        let versions: Vec<&str> = HOST_INTERFACES
            .iter()
            .filter_map(|i| i.split_once('@').map(|(_, v)| v))
            .fold(Vec::new(), |mut seen, v| {
                if !seen.contains(&v) {
                    seen.push(v);
                }
                seen
            });
        versions.join(" and ")
    };
    if path.starts_with("wasi:http/") {
        return "a plugin is no HTTP server: this host provides outbound HTTP only \
                (`wasi:http/outgoing-handler`, `wasi:http/types`); with componentize-js, build \
                with `jco componentize --disable fetch-event` (componentize-js \
                `disableFeatures: ['fetch-event']`)"
            .to_owned();
    }
    if let Some(interface) = path.strip_prefix("dify:plugin/") {
        return format!(
            "this host links `dify:plugin` {} (interfaces types, tool, output); rebuild the \
             plugin against this repository's `wit/` (it imports `{interface}` at {})",
            provided_dify(),
            version.unwrap_or("no version")
        );
    }
    if path.starts_with("wasi:") {
        let known = PROVIDED_WASI.iter().any(|p| split_version(p).0 == path);
        return match version {
            None => format!(
                "import `{path}` with its version (any 0.2.x), as wit-bindgen and \
                 componentize-py do"
            ),
            Some(v) if known && v.starts_with("0.2.") && v.contains('-') => format!(
                "`{name}` is a pre-release of WASI 0.2; rebuild with a current toolchain \
                 (wasm32-wasip2, componentize-py, jco), which imports a 0.2.x release"
            ),
            Some(_) if known => format!(
                "this host provides `{path}` of WASI 0.2 (any 0.2.x); build for WASI 0.2 \
                 (Rust: --target wasm32-wasip2)"
            ),
            Some(_) => format!(
                "`{path}` is no part of the WASI 0.2 this host provides (io, clocks, \
                 filesystem, random, cli, sockets; no network or files are granted); remove \
                 the dependency that imports it (`wasm-tools component wit plugin.wasm` shows \
                 the component's imports)"
            ),
        };
    }
    "a plugin may import only WASI 0.2 and `dify:plugin` interfaces; remove the dependency \
     that imports it (`wasm-tools component wit plugin.wasm` shows the component's imports)"
        .to_owned()
}

/// The names of the component's own imports (not those of the modules and components nested
/// in it, which it satisfies itself); `None` when the bytes do not parse as a component.
fn component_imports(mut bytes: &[u8]) -> Option<Vec<String>> {
    let mut parser = Parser::new(0);
    let mut imports = Vec::new();
    loop {
        let Chunk::Parsed { consumed, payload } = parser.parse(bytes, true).ok()? else {
            return None;
        };
        bytes = bytes.get(consumed..)?;
        match payload {
            Payload::ComponentImportSection(section) => {
                for import in section {
                    imports.push(import.ok()?.name.name.to_owned());
                }
            }
            // A nested module or component follows: the parser continues after it.
            Payload::ModuleSection {
                unchecked_range, ..
            }
            | Payload::ComponentSection {
                unchecked_range, ..
            } => {
                bytes = bytes.get(unchecked_range.len()..)?;
            }
            Payload::End(_) => return Some(imports),
            _ => {}
        }
    }
}

/// `name` without its `@version`, and the version.
fn split_version(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((path, version)) => (path, Some(version)),
        None => (name, None),
    }
}

/// The part of a versioned name that semver-compatible versions share (`wasi:io/poll@0.2`),
/// as wasmtime computes it; `None` when only the exact name matches.
fn track(name: &str) -> Option<(&str, u64, Option<u64>)> {
    let (path, version) = name.split_once('@')?;
    // Build metadata does not change compatibility; a pre-release matches only itself.
    let version = version.split_once('+').map_or(version, |(v, _)| v);
    let mut parts = version.split('.');
    let number = |part: Option<&str>| -> Option<u64> {
        let part = part?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (major, minor, _patch) = (
        number(parts.next())?,
        number(parts.next())?,
        number(parts.next())?,
    );
    if parts.next().is_some() {
        return None;
    }
    match (major, minor) {
        (0, 0) => None,
        (0, minor) => Some((path, 0, Some(minor))),
        (major, _) => Some((path, major, None)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use sha2::Digest;

    use super::*;
    use crate::limits::Limits;
    use crate::runtime::Runtime;

    /// Every interface of the WASI 0.2 packages, provided or not, with one of its exports: a
    /// resource type, or a function.
    const ALL_WASI_0_2: &[(&str, Export)] = &[
        ("wasi:io/error", Resource("error")),
        ("wasi:io/poll", Resource("pollable")),
        ("wasi:io/streams", Resource("input-stream")),
        ("wasi:clocks/wall-clock", Func("now")),
        ("wasi:clocks/monotonic-clock", Func("now")),
        ("wasi:clocks/timezone", Func("display")),
        ("wasi:filesystem/types", Resource("descriptor")),
        ("wasi:filesystem/preopens", Func("get-directories")),
        ("wasi:random/random", Func("get-random-bytes")),
        ("wasi:random/insecure", Func("get-insecure-random-bytes")),
        ("wasi:random/insecure-seed", Func("insecure-seed")),
        ("wasi:cli/run", Func("run")),
        ("wasi:cli/exit", Func("exit")),
        ("wasi:cli/environment", Func("get-environment")),
        ("wasi:cli/stdin", Func("get-stdin")),
        ("wasi:cli/stdout", Func("get-stdout")),
        ("wasi:cli/stderr", Func("get-stderr")),
        ("wasi:cli/terminal-input", Resource("terminal-input")),
        ("wasi:cli/terminal-output", Resource("terminal-output")),
        ("wasi:cli/terminal-stdin", Func("get-terminal-stdin")),
        ("wasi:cli/terminal-stdout", Func("get-terminal-stdout")),
        ("wasi:cli/terminal-stderr", Func("get-terminal-stderr")),
        ("wasi:sockets/network", Resource("network")),
        ("wasi:sockets/instance-network", Func("instance-network")),
        (
            "wasi:sockets/ip-name-lookup",
            Resource("resolve-address-stream"),
        ),
        ("wasi:sockets/tcp", Resource("tcp-socket")),
        ("wasi:sockets/tcp-create-socket", Func("create-tcp-socket")),
        ("wasi:sockets/udp", Resource("udp-socket")),
        ("wasi:sockets/udp-create-socket", Func("create-udp-socket")),
        ("wasi:http/types", Resource("fields")),
        ("wasi:http/incoming-handler", Func("handle")),
        ("wasi:http/outgoing-handler", Func("handle")),
    ];

    /// An export of an interface, as a probe asks for it.
    #[derive(Clone, Copy)]
    enum Export {
        Resource(&'static str),
        Func(&'static str),
    }
    use Export::{Func, Resource};

    /// A component importing instances named `names` that ask nothing of them. (wasmtime's
    /// linker takes an instance it does not define for an empty one, so such an import alone
    /// always links.)
    fn importing(names: &[&str]) -> Vec<u8> {
        let imports: String = names
            .iter()
            .map(|n| format!("(import \"{n}\" (instance))"))
            .collect();
        wat::parse_str(format!("(component {imports})")).expect("valid component text")
    }

    /// Whether the runtime's real linker defines an instance named `name` with `export`: a
    /// resource type links as it is; a function, asked for without parameters or results,
    /// links only if it has none, and otherwise fails with a type mismatch rather than as
    /// missing.
    fn linker_defines(runtime: &Runtime, name: &str, export: Export) -> bool {
        let item = match export {
            Resource(r) => format!("(export \"{r}\" (type (sub resource)))"),
            Func(f) => format!("(export \"{f}\" (func))"),
        };
        let text = format!("(component (import \"{name}\" (instance {item})))");
        let bytes = wat::parse_str(text).expect("valid component text");
        let component =
            wasmtime::component::Component::new(&runtime.inner.engine, bytes).expect("compiles");
        match runtime.inner.linker.instantiate_pre(&component) {
            Ok(_) => true,
            Err(e) => !format!("{e:#}").contains("implementation is missing"),
        }
    }

    #[test]
    fn the_list_is_what_the_linker_provides_at_every_0_2_version() {
        let runtime = Runtime::new(Limits::default()).expect("runtime");
        let mut probes: Vec<(String, Export)> = Vec::new();
        for (interface, export) in ALL_WASI_0_2 {
            for version in ["0.2.0", "0.2.3", "0.2.12", "0.2.99"] {
                probes.push((format!("{interface}@{version}"), *export));
            }
            // Not on the 0.2 track: a pre-release, another minor version, no version.
            probes.push((format!("{interface}@0.2.0-rc-2023-11-10"), *export));
            probes.push((format!("{interface}@0.3.0"), *export));
            probes.push(((*interface).to_owned(), *export));
        }
        probes.push(("dify:plugin/tool@0.2.0".into(), Resource("message-stream")));
        probes.push(("dify:plugin/tool@0.2.5".into(), Resource("message-stream")));
        probes.push(("dify:plugin/tool@0.3.0".into(), Resource("message-stream")));
        probes.push(("dify:plugin/output@0.1.0".into(), Func("emit")));
        probes.push(("acme:secret/door@1.0.0".into(), Func("open")));
        let mut provided = 0;
        for (name, export) in &probes {
            let defined = linker_defines(&runtime, name, *export);
            assert_eq!(is_provided(name), defined, "{name}");
            provided += usize::from(defined);
        }
        assert_eq!(provided, 4 * PROVIDED_WASI.len() + 3);
    }

    #[test]
    fn a_component_of_provided_imports_passes() {
        assert_eq!(check(&importing(&["wasi:io/streams@0.2.3"])), Ok(()));
        assert_eq!(check(&importing(HOST_INTERFACES.as_slice())), Ok(()));
        // Bytes that are not a component are left to the compiler to describe.
        assert_eq!(check(b"\0asm\x0d\0\x01\0\xff"), Ok(()));
        assert_eq!(check(b""), Ok(()));
    }

    #[test]
    fn missing_imports_are_each_named_with_what_to_change() {
        let problem = check(&importing(&[
            "wasi:io/streams@0.2.3",
            "wasi:http/incoming-handler@0.2.3",
            "wasi:http/types",
            "wasi:keyvalue/store@0.2.0-draft",
            "wasi:cli/environment@0.2.0-rc-2023-11-10",
            "dify:plugin/tool@0.3.0",
            "acme:secret/door@1.0.0",
        ]))
        .expect_err("refused");
        assert!(
            problem.starts_with(
                "it imports `wasi:http/incoming-handler@0.2.3`, `wasi:http/types`, \
                 `wasi:keyvalue/store@0.2.0-draft`, `wasi:cli/environment@0.2.0-rc-2023-11-10`, \
                 `dify:plugin/tool@0.3.0`, `acme:secret/door@1.0.0`, which this host does not \
                 provide (refused before compiling); "
            ),
            "{problem}"
        );
        assert_eq!(
            problem.matches("jco componentize --disable").count(),
            1,
            "one hint for both wasi:http imports: {problem}"
        );
        assert!(
            problem.contains("`wasi:keyvalue/store` is no part of"),
            "{problem}"
        );
        assert!(
            problem.contains("is a pre-release of WASI 0.2"),
            "{problem}"
        );
        assert!(
            problem.contains("`dify:plugin` 0.2.0 and 0.1.0"),
            "{problem}"
        );
        assert!(
            problem.contains("only WASI 0.2 and `dify:plugin`"),
            "{problem}"
        );
    }

    #[test]
    fn every_guest_of_this_repository_passes() {
        use dify_wasm_test_artifacts as artifacts;
        for path in [
            artifacts::SHOWCASE,
            artifacts::RELAY,
            artifacts::AGGREGATOR,
            artifacts::ADVERSARY,
            artifacts::LEGACY,
        ] {
            let bytes = std::fs::read(path).expect("built by the test artifacts");
            let imports = component_imports(&bytes).expect("a component");
            let started = Instant::now();
            assert_eq!(check(&bytes), Ok(()), "{path}");
            let checked = started.elapsed();
            assert!(
                imports.iter().any(|i| i.starts_with("wasi:cli/")),
                "{path}: {imports:?}"
            );
            assert!(
                imports.iter().any(|i| i.starts_with("dify:plugin/")),
                "{path}: {imports:?}"
            );
            // What every load pays anyway: the compile cache's key hashes the whole component.
            let started = Instant::now();
            std::hint::black_box(sha2::Sha256::digest(&bytes));
            let hashed = started.elapsed();
            eprintln!(
                "{} KiB, {} imports: checked in {checked:?}, hashed in {hashed:?}",
                bytes.len() >> 10,
                imports.len()
            );
        }
    }

    #[test]
    fn imports_of_nested_components_and_modules_are_theirs() {
        let nested = wat::parse_str(
            r#"(component
                (import "wasi:io/poll@0.2.0" (instance))
                (core module (import "acme" "f" (func)))
                (component (import "acme:inner/x@1.0.0" (instance)))
                (import "wasi:clocks/timezone@0.2.0" (instance)))"#,
        )
        .expect("wat");
        assert_eq!(
            component_imports(&nested),
            Some(vec![
                "wasi:io/poll@0.2.0".to_owned(),
                "wasi:clocks/timezone@0.2.0".to_owned()
            ])
        );
    }

    #[test]
    fn refusing_takes_far_less_than_compiling() {
        // A component of many functions, as a language runtime is, importing one missing
        // interface.
        let body: String = (0..3000)
            .map(|i| {
                format!(
                    "(func (export \"f{i}\") (param i32) (result i32) \
                     local.get 0 i32.const {i} i32.add i32.const 3 i32.mul)"
                )
            })
            .collect();
        let bytes = wat::parse_str(format!(
            "(component (import \"wasi:keyvalue/store@0.2.0\" (instance)) (core module {body}))"
        ))
        .expect("wat");
        let started = Instant::now();
        assert!(check(&bytes).is_err());
        let refused = started.elapsed();
        let started = Instant::now();
        let _ = wasmtime::component::Component::new(&wasmtime::Engine::default(), &bytes);
        let compiled = started.elapsed();
        eprintln!("refused in {refused:?}; compiling would take {compiled:?}");
        assert!(refused * 20 < compiled, "{refused:?} against {compiled:?}");
    }
}
