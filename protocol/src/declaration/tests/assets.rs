//! `_assets/` read the way the Python SDK reads it, within the daemon's size limit.

use std::fs::File;

use super::fixture::{Plugin, assert_only_problem};

#[test]
fn assets_are_the_non_empty_files_directly_in_the_folder_sorted_by_name() {
    let plugin = Plugin::probe();
    plugin
        .write("_assets/b.png", "png")
        .write("_assets/a_empty.svg", "")
        .write("_assets/nested/deep.svg", "<svg/>");
    let declarations = plugin.loaded();
    let names: Vec<&str> = declarations
        .assets()
        .iter()
        .map(|asset| asset.name.as_str())
        .collect();
    assert_eq!(names, ["b.png", "icon.svg"]);
}

#[test]
fn an_icon_in_a_sub_folder_is_refused_since_only_bare_names_are_sent() {
    let plugin = Plugin::probe();
    plugin.write("_assets/nested/deep.svg", "<svg/>").edit(
        "manifest.yaml",
        "icon: icon.svg",
        "icon: nested/deep.svg",
    );
    assert_only_problem(&plugin.problems(), "manifest.yaml", "icon", &["is a path"]);
}

#[test]
fn an_empty_icon_is_refused_since_it_never_reaches_the_daemon() {
    let plugin = Plugin::probe();
    plugin.write("_assets/icon.svg", "");
    let problems = plugin.problems();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems
            .iter()
            .all(|problem| problem.rule.contains("is empty"))
    );
}

#[test]
fn a_missing_assets_folder_shows_as_missing_icons() {
    let plugin = Plugin::probe();
    plugin.remove("_assets/icon.svg");
    std::fs::remove_dir(plugin.file("_assets")).expect("remove the folder");
    let problems = plugin.problems();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems
            .iter()
            .all(|problem| problem.rule.contains("not a file in _assets/"))
    );
}

#[test]
fn assets_over_50_mib_of_base64_are_refused_without_reading_them() {
    let plugin = Plugin::probe();
    // 38 MiB is 50.7 MiB once base64-encoded. A sparse file costs no disk and is never read.
    let big = File::create(plugin.file("_assets/big.bin")).expect("create the file");
    big.set_len(38 << 20).expect("size the file");
    assert_only_problem(&plugin.problems(), "_assets", "", &["base64", "50 MiB"]);

    big.set_len(37 << 20).expect("size the file");
    assert_eq!(plugin.loaded().assets().len(), 2);
}
