//! README.md is part of the interface: its configuration table lists every `S3DR_*` variable
//! the Lambda reads (`config::SETTINGS`), with its default.

mod common;

use common::repo_root;
use s3_dr::config::SETTINGS;

#[test]
fn the_configuration_table_lists_every_setting_with_its_default() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    for (variable, default, _) in SETTINGS {
        let row = readme
            .lines()
            .find(|line| line.starts_with(&format!("| `{variable}` |")))
            .unwrap_or_else(|| panic!("README.md has no configuration row for {variable}"));
        // Defaults that are values (not "(required by ...)") appear in the row.
        if !default.starts_with('(') {
            assert!(row.contains(default), "README.md row for {variable} does not show its default {default}: {row}");
        }
    }
}
