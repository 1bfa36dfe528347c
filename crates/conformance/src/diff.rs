//! Readable differences between two normalised responses, for test failure messages.

use std::fmt::Debug;

/// How many lines around the first difference are shown.
const CONTEXT: usize = 6;

/// The pretty-printed values around their first differing line, or `None` when they are equal.
///
/// Equality decides, not the printed text: protobuf maps (tags) are hash maps, which print in any order.
pub fn first_difference<T: Debug + PartialEq>(python: &T, ours: &T) -> Option<String> {
    if python == ours {
        return None;
    }
    let python = format!("{python:#?}");
    let ours = format!("{ours:#?}");
    let python_lines: Vec<&str> = python.lines().collect();
    let our_lines: Vec<&str> = ours.lines().collect();
    let first =
        (0..python_lines.len().max(our_lines.len())).find(|&index| python_lines.get(index) != our_lines.get(index))?;
    let start = first.saturating_sub(CONTEXT);
    let excerpt = |lines: &[&str]| {
        lines
            .iter()
            .enumerate()
            .skip(start)
            .take(2 * CONTEXT + 1)
            .map(|(index, line)| format!("{} {line}", if index == first { ">" } else { " " }))
            .collect::<Vec<_>>()
            .join("\n")
    };
    Some(format!(
        "first difference at line {} of the normalised responses\n--- python:\n{}\n--- ours:\n{}",
        first + 1,
        excerpt(&python_lines),
        excerpt(&our_lines)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_have_no_difference() {
        assert_eq!(first_difference(&vec![1, 2], &vec![1, 2]), None);
    }

    #[test]
    fn maps_are_compared_by_content_not_by_printing_order() {
        let one: std::collections::HashMap<String, u32> = (0..50).map(|i| (i.to_string(), i)).collect();
        let other: std::collections::HashMap<String, u32> = (0..50).rev().map(|i| (i.to_string(), i)).collect();
        assert_eq!(first_difference(&one, &other), None);
    }

    #[test]
    fn the_first_differing_line_is_marked() {
        let difference = first_difference(&vec![1, 2, 3], &vec![1, 5, 3]).unwrap();
        assert!(difference.contains(">     2,"), "{difference}");
        assert!(difference.contains(">     5,"), "{difference}");
    }
}
