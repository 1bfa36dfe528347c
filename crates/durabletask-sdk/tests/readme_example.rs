//! The README's "Writing durable functions in Rust" example is this crate's `functions_handler` example, which
//! `cargo test` compiles; this test keeps the two from drifting apart.

#[test]
fn the_readme_shows_the_functions_handler_example_verbatim() {
    let readme = include_str!("../../../README.md");
    let example = include_str!("../examples/functions_handler.rs");
    let code: String = example
        .lines()
        .skip_while(|line| line.starts_with("//!") || line.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        readme.contains(&code),
        "README.md must contain examples/functions_handler.rs (without its //! header)"
    );
}

#[test]
fn the_readme_shows_the_entity_locks_example_verbatim() {
    let readme = include_str!("../../../README.md");
    let example = include_str!("../examples/entity_locks.rs");
    let begin = example.find("// README:begin\n").expect("the begin marker") + "// README:begin\n".len();
    let end = example.find("// README:end").expect("the end marker");
    assert!(
        readme.contains(&example[begin..end]),
        "README.md must contain the marked part of examples/entity_locks.rs"
    );
}
