//! The `conformance-serve` binary speaks the oracle's protocol: one answer line per request line, errors for
//! malformed lines without stopping.

use std::io::Write;
use std::process::{Command, Stdio};

use durabletask_conformance::oracle::vectors_file;
use durabletask_conformance::serve::{parse_answer, request_line};
use durabletask_conformance::wire::{self, read_vectors, RequestKind};
use durabletask_sdk::Registry;

#[test]
fn requests_are_answered_in_order_and_malformed_lines_do_not_stop_the_server() {
    let vectors = read_vectors(&vectors_file()).expect("the golden vectors are readable");
    let picked: Vec<_> = RequestKind::ALL
        .iter()
        .map(|kind| {
            vectors
                .iter()
                .find(|vector| vector.request.kind() == *kind)
                .unwrap_or_else(|| panic!("no {} vector", kind.key()))
        })
        .collect();
    let mut input = String::new();
    for (index, vector) in picked.iter().enumerate() {
        input.push_str(&request_line(&vector.request));
        input.push('\n');
        if index == 1 {
            input.push_str("this is not a request\n\n");
        }
    }

    let mut child = Command::new(env!("CARGO_BIN_EXE_conformance-serve"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("conformance-serve starts");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child
        .wait_with_output()
        .expect("conformance-serve ends at end of input");
    assert!(output.status.success());
    let answers: Vec<&str> = std::str::from_utf8(&output.stdout).unwrap().lines().collect();
    assert_eq!(
        answers.len(),
        picked.len() + 1,
        "one answer per non-blank line: {answers:?}"
    );

    let mut registry = Registry::new();
    durabletask_conformance::register(&mut registry);
    let mut answers = answers.into_iter();
    for (index, vector) in picked.iter().enumerate() {
        let kind = vector.request.kind();
        let answered = parse_answer(kind, answers.next().unwrap()).expect("a response");
        let expected = wire::execute(&registry, &vector.request);
        assert_eq!(answered.normalized(), expected.normalized(), "{}", kind.key());
        if index == 1 {
            let error = parse_answer(kind, answers.next().unwrap()).unwrap_err();
            assert!(error.to_string().contains("the line is not JSON"), "{error}");
        }
    }
}
