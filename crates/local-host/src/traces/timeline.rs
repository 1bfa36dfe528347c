//! One id's timeline from collected spans: every trace in which a span's attributes name the id (a return's
//! Service Bus messages, the signals to its entity, the entity's operations, its orchestration's episodes and
//! their activities), the spans in the order they started, each indented under its parent.
//!
//! Pure: [`Timeline::of`] takes the spans and the id; [`Timeline`]'s `Display` is the printed form.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};

use super::collector::CollectedSpan;

/// The attributes worth a column in a timeline line, shown as `key=value` after the span's name.
const SHOWN_ATTRIBUTES: [(&str, &str); 6] = [
    ("durabletask.task.instance_id", "instance"),
    ("durabletask.entity.operation", "operation"),
    ("durabletask.task.task_id", "task"),
    ("durabletask.task.version", "version"),
    ("durabletask.task.status", "status"),
    ("messaging.message.id", "message"),
];

/// Whether `value` names `id`: it is the id, or ends with it after a separator the Durable Task ids use
/// (`@returnaggregate@RET-1`, `returns-settled-RET-1`, `entity:RET-1`).
pub fn names_id(value: &str, id: &str) -> bool {
    if id.is_empty() {
        return false;
    }
    value == id
        || value
            .strip_suffix(id)
            .is_some_and(|prefix| prefix.ends_with(['@', '-', ':', '/']))
}

/// One line of a timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    /// The span.
    pub span: CollectedSpan,
    /// How deep the span sits in its trace (0 for the spans whose parent was not received: the trace's start).
    pub depth: usize,
}

/// The spans of every trace that names one id, in the order they started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// The id asked for.
    pub id: String,
    /// The traces, in the order of their first span.
    pub trace_ids: Vec<String>,
    /// The spans, by start time (then by depth, so a parent comes before a child that started with it).
    pub entries: Vec<TimelineEntry>,
}

impl Timeline {
    /// The timeline of `id` among `spans` (a span received twice counts once).
    pub fn of(spans: &[CollectedSpan], id: &str) -> Self {
        let traces: BTreeSet<&str> = spans
            .iter()
            .filter(|span| span.attributes.values().any(|value| names_id(value, id)))
            .map(|span| span.trace_id.as_str())
            .collect();
        let mut seen = BTreeSet::new();
        let chosen: Vec<&CollectedSpan> = spans
            .iter()
            .filter(|span| traces.contains(span.trace_id.as_str()))
            .filter(|span| seen.insert((span.trace_id.as_str(), span.span_id.as_str())))
            .collect();
        let by_id: HashMap<(&str, &str), &CollectedSpan> = chosen
            .iter()
            .map(|span| ((span.trace_id.as_str(), span.span_id.as_str()), *span))
            .collect();
        let depth_of = |span: &CollectedSpan| {
            let mut depth = 0;
            let mut current = span;
            // Bounded by the number of spans, so a malformed parent cycle cannot loop forever.
            while let Some(parent) = by_id.get(&(current.trace_id.as_str(), current.parent_span_id.as_str())) {
                depth += 1;
                current = parent;
                if depth > by_id.len() {
                    break;
                }
            }
            depth
        };
        let mut entries: Vec<TimelineEntry> = chosen
            .iter()
            .map(|span| TimelineEntry {
                span: (*span).clone(),
                depth: depth_of(span),
            })
            .collect();
        entries.sort_by(|a, b| {
            (a.span.start_unix_nanos, a.depth, &a.span.name).cmp(&(b.span.start_unix_nanos, b.depth, &b.span.name))
        });
        let mut trace_ids = Vec::new();
        for entry in &entries {
            if !trace_ids.contains(&entry.span.trace_id) {
                trace_ids.push(entry.span.trace_id.clone());
            }
        }
        Self {
            id: id.to_owned(),
            trace_ids,
            entries,
        }
    }

    /// Whether no span names the id.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn clock(unix_nanos: u64) -> String {
    let seconds = i64::try_from(unix_nanos / 1_000_000_000).unwrap_or(i64::MAX);
    let nanos = u32::try_from(unix_nanos % 1_000_000_000).unwrap_or(0);
    DateTime::<Utc>::from_timestamp(seconds, nanos).map_or_else(
        || unix_nanos.to_string(),
        |time| time.format("%H:%M:%S%.3f").to_string(),
    )
}

fn millis(nanos: u64) -> String {
    format!("{:.1} ms", nanos as f64 / 1e6)
}

impl fmt::Display for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(f, "timeline of {}: no span names it", self.id);
        }
        let first = self.entries[0].span.start_unix_nanos;
        writeln!(
            f,
            "timeline of {} ({} spans in {} traces; times UTC, +offset from the first span, duration):",
            self.id,
            self.entries.len(),
            self.trace_ids.len()
        )?;
        for entry in &self.entries {
            let span = &entry.span;
            let trace = self
                .trace_ids
                .iter()
                .position(|trace| *trace == span.trace_id)
                .map_or(0, |index| index + 1);
            write!(
                f,
                "  {} +{:>9} {:>9}  t{trace:<2} {}{}",
                clock(span.start_unix_nanos),
                millis(span.start_unix_nanos.saturating_sub(first)),
                millis(span.end_unix_nanos.saturating_sub(span.start_unix_nanos)),
                "  ".repeat(entry.depth),
                span.name
            )?;
            for (key, label) in SHOWN_ATTRIBUTES {
                // Under Functions an activity's task id is not known to the worker: the SDK says -1.
                let shown = |value: &&str| {
                    let unknown_task = label == "task" && *value == "-1";
                    !(value.is_empty() || unknown_task)
                };
                if let Some(value) = span.attribute(key).filter(shown) {
                    write!(f, " {label}={value}")?;
                }
            }
            if span.error {
                write!(f, " ERROR")?;
            }
            writeln!(f)?;
        }
        for (index, trace) in self.trace_ids.iter().enumerate() {
            writeln!(f, "  t{} = trace {trace}", index + 1)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(trace: &str, id: &str, parent: &str, name: &str, start: u64, attributes: &[(&str, &str)]) -> CollectedSpan {
        CollectedSpan {
            name: name.into(),
            trace_id: trace.into(),
            span_id: id.into(),
            parent_span_id: parent.into(),
            kind: 1,
            start_unix_nanos: start,
            end_unix_nanos: start + 2_000_000,
            attributes: attributes
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect(),
            error: false,
        }
    }

    const INSTANCE: &str = "durabletask.task.instance_id";

    fn spans() -> Vec<CollectedSpan> {
        vec![
            // The settling message's trace: message -> signal -> operation -> episode -> activity.
            span("t2", "m2", "", "ServiceBusTrigger process", 5_000_000_000, &[]),
            span(
                "t2",
                "s2",
                "m2",
                "signal_entity:returnaggregate",
                5_001_000_000,
                &[(INSTANCE, "@returnaggregate@RET-1")],
            ),
            span(
                "t2",
                "o2",
                "s2",
                "entity:returnaggregate:apply",
                5_010_000_000,
                &[(INSTANCE, "@returnaggregate@RET-1")],
            ),
            span(
                "t2",
                "e2",
                "o2",
                "orchestration:Orchestrator",
                5_020_000_000,
                &[(INSTANCE, "returns-settled-RET-1")],
            ),
            span(
                "t2",
                "a2",
                "e2",
                "activity:PublishNotification",
                5_030_000_000,
                &[(INSTANCE, "returns-settled-RET-1")],
            ),
            // The first message's trace.
            span("t1", "m1", "", "ServiceBusTrigger process", 1_000_000_000, &[]),
            span(
                "t1",
                "s1",
                "m1",
                "signal_entity:returnaggregate",
                1_001_000_000,
                &[(INSTANCE, "@returnaggregate@RET-1")],
            ),
            // Another return, and one whose id only starts like ours.
            span("t3", "m3", "", "ServiceBusTrigger process", 2_000_000_000, &[]),
            span(
                "t3",
                "s3",
                "m3",
                "signal_entity:returnaggregate",
                2_001_000_000,
                &[(INSTANCE, "@returnaggregate@RET-2")],
            ),
            span(
                "t4",
                "s4",
                "",
                "signal_entity:returnaggregate",
                3_000_000_000,
                &[(INSTANCE, "@returnaggregate@RET-10")],
            ),
        ]
    }

    #[test]
    fn takes_every_trace_that_names_the_id_and_nothing_else() {
        let timeline = Timeline::of(&spans(), "RET-1");
        assert_eq!(timeline.trace_ids, ["t1", "t2"]);
        let names: Vec<(&str, usize)> = timeline
            .entries
            .iter()
            .map(|entry| (entry.span.span_id.as_str(), entry.depth))
            .collect();
        assert_eq!(
            names,
            [
                ("m1", 0),
                ("s1", 1),
                ("m2", 0),
                ("s2", 1),
                ("o2", 2),
                ("e2", 3),
                ("a2", 4)
            ]
        );
    }

    #[test]
    fn a_span_received_twice_is_shown_once() {
        let mut spans = spans();
        spans.push(spans[4].clone());
        assert_eq!(Timeline::of(&spans, "RET-1").entries.len(), 7);
    }

    #[test]
    fn ids_are_named_whole() {
        assert!(names_id("@returnaggregate@RET-1", "RET-1"));
        assert!(names_id("returns-settled-RET-1", "RET-1"));
        assert!(names_id("RET-1", "RET-1"));
        assert!(!names_id("@returnaggregate@RET-10", "RET-1"));
        assert!(!names_id("XRET-1", "RET-1"));
        assert!(!names_id("anything", ""));
    }

    #[test]
    fn prints_offsets_indentation_and_the_traces() {
        let printed = Timeline::of(&spans(), "RET-1").to_string();
        let lines: Vec<&str> = printed.lines().collect();
        assert!(
            lines[0].starts_with("timeline of RET-1 (7 spans in 2 traces"),
            "{printed}"
        );
        assert!(
            lines[1].contains("+   0.0 ms") && lines[1].contains("t1  ServiceBusTrigger process"),
            "{printed}"
        );
        assert!(
            lines[7].contains("+4030.0 ms") && lines[7].contains("t2          activity:PublishNotification"),
            "{printed}"
        );
        assert!(lines[7].contains("instance=returns-settled-RET-1"), "{printed}");
        assert_eq!(lines[8], "  t1 = trace t1");
        assert!(Timeline::of(&spans(), "RET-9").to_string().contains("no span names it"));
    }
}
