//! The domain and the durable functions read downward only: each module uses only modules listed before it, so
//! there is no import circle (events → aggregate → completion/lifecycle → notification/status; contract → the
//! functions that speak through it).

use std::path::Path;

/// The modules of `dir`, lowest layer first.
const DOMAIN: &[&str] = &[
    "timestamp_json",
    "log_text",
    "limits",
    "identifiers",
    "invalid_event",
    "money",
    "json_fields",
    "events",
    "event_parser",
    "records",
    "tombstone",
    "aggregate",
    "completion",
    "lifecycle",
    "notification",
    "status_report",
];

const DURABLE: &[&str] = &["contract", "settings", "publish", "notify", "aggregate_entity"];

/// The sibling modules `source` refers to through `super::<module>`, outside comments.
fn uses(source: &str, siblings: &[&str]) -> Vec<String> {
    let code: String = source
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    siblings
        .iter()
        .filter(|sibling| {
            code.match_indices(&format!("super::{sibling}"))
                .any(|(at, m)| !code[at + m.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_'))
        })
        .map(|sibling| sibling.to_string())
        .collect()
}

fn check(dir: &str, order: &[&str]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    let mut files: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|name| name != "mod")
        .collect();
    files.sort();
    let mut listed: Vec<String> = order.iter().map(|m| m.to_string()).collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "every module of src/{dir} has its place in the layer order"
    );
    for (position, module) in order.iter().enumerate() {
        let source = std::fs::read_to_string(root.join(format!("{module}.rs"))).unwrap();
        for used in uses(&source, order) {
            let used_at = order.iter().position(|m| *m == used).unwrap();
            assert!(
                used_at < position,
                "src/{dir}/{module}.rs uses {used}, which is not below it: the layers would have a circle"
            );
        }
    }
}

#[test]
fn the_domain_reads_downward_only() {
    check("domain", DOMAIN);
}

#[test]
fn the_check_sees_the_imports() {
    let lifecycle = include_str!("../src/domain/lifecycle.rs");
    let used = uses(lifecycle, DOMAIN);
    assert!(
        used.contains(&"aggregate".to_string()) && used.contains(&"completion".to_string()),
        "{used:?}"
    );
    assert!(uses("use super::aggregate::X; // super::notification", DOMAIN) == ["aggregate"]);
    assert!(uses("use super::aggregates::X;", DOMAIN).is_empty());
}

#[test]
fn the_durable_functions_speak_through_the_contract_without_circles() {
    check("durable", DURABLE);
}
