//! Whatever the yaml holds, loading answers with declarations or problems, never a panic; and
//! it reports every problem of every file at once.

use super::fixture::{PROBE_MANIFEST, PROBE_PROVIDER, PROBE_TOOL, Plugin, assert_problem};

const ODD_DOCUMENTS: &[&str] = &[
    "",
    "~",
    "42",
    "just text",
    "[1, 2, 3]",
    "{a: {b: {c: [d, {e: f}]}}}",
    "!!binary aGVsbG8=",
    "? [complex, key]\n: value\n",
    "a: &anchor {x: 1}\nb: *anchor\n<<: *anchor\n",
    "a: .nan\nb: -.inf\nc: 0x1F\nd: 1e400\n",
    "---\na: 1\n---\nb: 2\n",
    "identity: [1, 2]\ndescription: 3\nparameters: {a: b}\ntools: oops\n",
    "identity:\n  name: {x: 1}\n  label: [en_US]\n  tags: yes\n",
    "parameters:\n  - 1\n  - [a]\n  - {name: [x], options: [1, {value: [1]}], default: {1: 2}, min: text}\n",
    "\u{feff}version: 0.0.1\n",
    "a: \"\\uD800\"\n",
];

#[test]
fn no_document_makes_loading_panic() {
    for file in ["manifest.yaml", "provider/probe.yaml", "tools/echo.yaml"] {
        for document in ODD_DOCUMENTS {
            let plugin = Plugin::probe();
            plugin.write(file, document);
            // Either outcome is fine; reaching here without a panic is the point.
            if let Err(error) = plugin.load() {
                assert!(!error.problems().is_empty(), "{file}: {document:?}");
                assert!(
                    error
                        .problems()
                        .iter()
                        .all(|problem| !problem.rule.is_empty()),
                    "{file}: {document:?}"
                );
            }
        }
    }
}

#[test]
fn bytes_that_are_not_utf8_are_a_problem() {
    let plugin = Plugin::probe();
    std::fs::write(plugin.file("tools/echo.yaml"), [0xff, 0xfe, b'a']).expect("write");
    let problems = plugin.problems();
    assert_problem(&problems, "tools/echo.yaml", "", &["UTF-8"]);
}

#[test]
fn every_problem_of_every_file_is_reported_at_once_in_file_order() {
    let plugin = Plugin::probe();
    plugin
        .write(
            "tools/echo.yaml",
            &PROBE_TOOL.replace("    form: form", "    form: ui"),
        )
        .write(
            "provider/probe.yaml",
            &PROBE_PROVIDER.replace("  name: probe", "  name: pro be"),
        )
        .write(
            "manifest.yaml",
            &PROBE_MANIFEST
                .replace("type: plugin", "type: bundle")
                .replace("created_at: 2026-01-01T00:00:00Z", "created_at: yesterday"),
        );
    let error = match plugin.load() {
        Ok(_) => panic!("the plugin should not load"),
        Err(error) => error,
    };
    let places: Vec<(&str, &str)> = error
        .problems()
        .iter()
        .map(|problem| (problem.file.as_str(), problem.field.as_str()))
        .collect();
    assert_eq!(
        places,
        [
            ("manifest.yaml", "type"),
            ("manifest.yaml", "created_at"),
            ("provider/probe.yaml", "identity.name"),
            ("tools/echo.yaml", "parameters[1].form"),
        ]
    );
    let text = error.to_string();
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(
        text.contains("tools/echo.yaml: parameters[1].form: `ui`"),
        "{text}"
    );
}
