//! Run statistics: counters every part of the host updates, an activity signal the quiescence check
//! waits on, and the end-of-run summary.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::output::problems::Problem;

/// Invocation outcomes of one function, and the time its invocations took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FunctionCounts {
    /// Invocations started (ended ones included).
    pub started: u64,
    /// Successful invocations.
    pub succeeded: u64,
    /// Failed invocations (non-2xx, bad response, connection error).
    pub failed: u64,
    /// Invocations that hit the function timeout.
    pub timed_out: u64,
    /// Invocations lost because the handler process exited.
    pub lost: u64,
    /// The summed wall time of its ended invocations, request sent to response read (the handler's latency
    /// as the host sees it).
    pub busy: Duration,
}

impl FunctionCounts {
    /// Invocations that ended, whatever the outcome.
    pub fn ended(&self) -> u64 {
        self.succeeded + self.failed + self.timed_out + self.lost
    }

    /// Invocations in flight now.
    pub fn in_flight(&self) -> u64 {
        self.started.saturating_sub(self.ended())
    }
}

/// The kinds of engine work items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkItemKind {
    /// An orchestrator episode.
    Orchestration,
    /// An activity.
    Activity,
    /// An entity batch.
    Entity,
}

/// A copy of the statistics at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Time since the host started.
    pub elapsed: Duration,
    /// Distinct Service Bus messages enqueued (duplicates included).
    pub messages_enqueued: u64,
    /// Deliveries made (first deliveries and redeliveries).
    pub deliveries: u64,
    /// Messages completed (delivered and processed successfully).
    pub messages_completed: u64,
    /// Deliveries after a failed attempt.
    pub redeliveries: u64,
    /// Messages moved to the dead-letter file.
    pub dead_lettered: u64,
    /// Timer invocations.
    pub timers_fired: u64,
    /// Invocation outcomes per function.
    pub invocations: BTreeMap<String, FunctionCounts>,
    /// Work items received from the engine: orchestrations, activities, entities.
    pub work_items: [u64; 3],
    /// Messages sent per destination.
    pub published: BTreeMap<String, u64>,
    /// Invocations in flight now.
    pub in_flight: usize,
    /// Engine work items received and not yet completed, abandoned or failed.
    pub work_items_in_flight: usize,
    /// Handler process restarts.
    pub handler_restarts: u64,
    /// When the first message was enqueued, from the host's start.
    pub first_enqueued: Option<Duration>,
    /// When the last message was published, from the host's start.
    pub last_published: Option<Duration>,
    /// What went wrong for good, in the order it happened.
    pub problems: Vec<Problem>,
}

impl StatsSnapshot {
    /// The entity batches failed for good, in order: (entity id, its operations).
    pub fn failed_entity_batches(&self) -> Vec<(String, Vec<String>)> {
        self.problems
            .iter()
            .filter_map(|problem| match problem {
                Problem::WorkItemFailed {
                    kind: WorkItemKind::Entity,
                    instance_id,
                    operations,
                    ..
                } => Some((instance_id.clone(), operations.clone())),
                _ => None,
            })
            .collect()
    }

    /// Failed, timed-out and lost invocations, all functions together.
    pub fn failures(&self) -> u64 {
        self.invocations
            .values()
            .map(|counts| counts.failed + counts.timed_out + counts.lost)
            .sum()
    }

    /// Invocations and work items in flight: the run is not idle while any is.
    pub fn busy(&self) -> usize {
        self.in_flight + self.work_items_in_flight
    }

    /// Messages completed or dead-lettered: settled, in Service Bus terms.
    pub fn messages_settled(&self) -> u64 {
        self.messages_completed + self.dead_lettered
    }

    /// Messages sent, all destinations together.
    pub fn published_total(&self) -> u64 {
        self.published.values().sum()
    }

    /// From the first message enqueued to the last message published: the span throughput is measured over.
    pub fn busy_span(&self) -> Option<Duration> {
        Some(self.last_published?.saturating_sub(self.first_enqueued?))
    }

    /// The summed invocation time of all functions.
    pub fn invocation_time(&self) -> Duration {
        self.invocations.values().map(|counts| counts.busy).sum()
    }
}

#[derive(Debug)]
struct Inner {
    snapshot: StatsSnapshot,
    last_work_item: Option<Instant>,
    last_change: Instant,
}

/// Shared run statistics.
#[derive(Debug)]
pub struct Stats {
    started: Instant,
    inner: Mutex<Inner>,
    activity: watch::Sender<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            inner: Mutex::new(Inner {
                snapshot: StatsSnapshot::default(),
                last_work_item: None,
                last_change: Instant::now(),
            }),
            activity: watch::channel(0).0,
        }
    }
}

impl Stats {
    fn update(&self, change: impl FnOnce(&mut Inner)) {
        let mut inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        change(&mut inner);
        inner.last_change = Instant::now();
        drop(inner);
        self.activity.send_modify(|epoch| *epoch += 1);
    }

    /// A receiver that changes whenever anything is counted (for waiting on progress).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.activity.subscribe()
    }

    /// The statistics now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        StatsSnapshot {
            elapsed: self.started.elapsed(),
            ..inner.snapshot.clone()
        }
    }

    /// When the engine last sent a work item.
    pub fn last_work_item(&self) -> Option<Instant> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .last_work_item
    }

    /// How long nothing has been counted (no invocation started or ended, no work item received).
    pub fn quiet_for(&self) -> Duration {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .last_change
            .elapsed()
    }

    /// Marks activity now without counting anything (e.g. a delivery batch starting).
    pub fn touch(&self) {
        self.update(|_| {});
    }

    /// An invocation of `function` starts.
    pub fn invocation_started(&self, function: &str) {
        self.update(|inner| {
            inner.snapshot.in_flight += 1;
            inner
                .snapshot
                .invocations
                .entry(function.to_owned())
                .or_default()
                .started += 1;
        });
    }

    /// An invocation of `function` ended after `took`; `outcome` counts how.
    pub fn invocation_ended(&self, function: &str, took: Duration, outcome: impl FnOnce(&mut FunctionCounts)) {
        self.update(|inner| {
            inner.snapshot.in_flight = inner.snapshot.in_flight.saturating_sub(1);
            let counts = inner.snapshot.invocations.entry(function.to_owned()).or_default();
            counts.busy += took;
            outcome(counts);
        });
    }

    /// The engine sent a work item; [`Stats::work_item_done`] follows when it is answered.
    pub fn work_item_received(&self, kind: WorkItemKind) {
        self.update(|inner| {
            inner.last_work_item = Some(Instant::now());
            inner.snapshot.work_items[kind as usize] += 1;
            inner.snapshot.work_items_in_flight += 1;
        });
    }

    /// A work item was completed, abandoned or failed.
    pub fn work_item_done(&self) {
        self.update(|inner| {
            inner.snapshot.work_items_in_flight = inner.snapshot.work_items_in_flight.saturating_sub(1);
        });
    }

    /// A message was sent to `destination`.
    pub fn published(&self, destination: &str, count: u64) {
        let now = self.started.elapsed();
        self.update(|inner| {
            *inner.snapshot.published.entry(destination.to_owned()).or_default() += count;
            inner.snapshot.last_published = Some(now);
        });
    }

    /// Messages were enqueued for delivery.
    pub fn messages_enqueued(&self, count: u64) {
        let now = self.started.elapsed();
        self.update(|inner| {
            inner.snapshot.messages_enqueued += count;
            inner.snapshot.first_enqueued.get_or_insert(now);
        });
    }

    /// A message is handed to its function (a first delivery or a redelivery).
    pub fn message_delivered(&self) {
        self.update(|inner| inner.snapshot.deliveries += 1);
    }

    /// A message was processed successfully.
    pub fn message_completed(&self) {
        self.update(|inner| inner.snapshot.messages_completed += 1);
    }

    /// A message is delivered again after a failure.
    pub fn message_redelivered(&self) {
        self.update(|inner| inner.snapshot.redeliveries += 1);
    }

    /// A message was dead-lettered.
    pub fn message_dead_lettered(&self) {
        self.update(|inner| inner.snapshot.dead_lettered += 1);
    }

    /// A timer function was invoked.
    pub fn timer_fired(&self) {
        self.update(|inner| inner.snapshot.timers_fired += 1);
    }

    /// Something went wrong for good (see [`Problem`]).
    pub fn problem(&self, problem: Problem) {
        tracing::error!("{problem}");
        self.update(|inner| inner.snapshot.problems.push(problem));
    }

    /// The handler process was restarted.
    pub fn handler_restarted(&self) {
        self.update(|inner| inner.snapshot.handler_restarts += 1);
    }
}

impl fmt::Display for StatsSnapshot {
    /// The end-of-run summary: a few tables, then lines that scripts read (`invocation time: … s`,
    /// `first message enqueued to last message published: … s`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "local host summary ({:.1} s)", self.elapsed.as_secs_f64())?;
        writeln!(
            f,
            "  {:<24} {:>9} {:>10} {:>9} {:>11} {:>13}",
            "messages", "enqueued", "deliveries", "completed", "redelivered", "dead-lettered"
        )?;
        writeln!(
            f,
            "  {:<24} {:>9} {:>10} {:>9} {:>11} {:>13}",
            "", self.messages_enqueued, self.deliveries, self.messages_completed, self.redeliveries, self.dead_lettered
        )?;
        let [orchestrations, activities, entities] = self.work_items;
        writeln!(
            f,
            "  {:<24} {:>9} {:>10} {:>9}",
            "engine work items", "orch.", "activity", "entity"
        )?;
        writeln!(f, "  {:<24} {orchestrations:>9} {activities:>10} {entities:>9}", "")?;
        writeln!(
            f,
            "  {:<24} {:>9} {:>10} {:>9} {:>11} {:>13}",
            "invocations", "ok", "failed", "timed out", "lost", "summed time"
        )?;
        for (function, counts) in &self.invocations {
            writeln!(
                f,
                "    {function:<22} {:>9} {:>10} {:>9} {:>11} {:>11.3} s",
                counts.succeeded,
                counts.failed,
                counts.timed_out,
                counts.lost,
                counts.busy.as_secs_f64()
            )?;
        }
        writeln!(f, "  {:<24} {:>9}", "published", self.published_total())?;
        for (destination, count) in &self.published {
            writeln!(f, "    {destination:<22} {count:>9}")?;
        }
        writeln!(f, "  timers fired: {}", self.timers_fired)?;
        writeln!(
            f,
            "  failed invocations: {}, handler restarts: {}",
            self.failures(),
            self.handler_restarts
        )?;
        writeln!(f, "  invocation time: {:.3} s", self.invocation_time().as_secs_f64())?;
        if let Some(span) = self.busy_span() {
            writeln!(
                f,
                "  first message enqueued to last message published: {:.3} s",
                span.as_secs_f64()
            )?;
        }
        write!(
            f,
            "  problems: {} (work lost or stuck; listed on stderr)",
            self.problems.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_summary() {
        let stats = Stats::default();
        let mut activity = stats.subscribe();
        stats.invocation_started("ServiceBusTrigger");
        assert!(activity.has_changed().unwrap());
        activity.mark_unchanged();
        assert_eq!(stats.snapshot().invocations["ServiceBusTrigger"].in_flight(), 1);
        stats.invocation_ended("ServiceBusTrigger", Duration::from_millis(5), |counts| {
            counts.failed += 1
        });
        stats.invocation_started("ServiceBusTrigger");
        stats.invocation_ended("ServiceBusTrigger", Duration::from_millis(7), |counts| {
            counts.succeeded += 1
        });
        stats.work_item_received(WorkItemKind::Entity);
        stats.published("notifications", 2);
        stats.messages_enqueued(3);
        stats.message_redelivered();
        let snapshot = stats.snapshot();
        assert!(activity.has_changed().unwrap());
        assert_eq!(snapshot.in_flight, 0);
        assert_eq!(snapshot.failures(), 1);
        assert_eq!(snapshot.work_items, [0, 0, 1]);
        let counts = snapshot.invocations["ServiceBusTrigger"];
        assert_eq!((counts.started, counts.in_flight()), (2, 0));
        assert_eq!(counts.busy, Duration::from_millis(12));
        assert!(snapshot.busy_span().is_some());
        assert!(stats.last_work_item().is_some());
        let summary = snapshot.to_string();
        let messages_row = summary.lines().nth(2).unwrap();
        assert_eq!(
            messages_row.split_whitespace().collect::<Vec<_>>(),
            ["3", "0", "0", "1", "0"],
            "enqueued, deliveries, completed, redelivered, dead-lettered: {summary}"
        );
        let row = summary.lines().find(|line| line.contains("ServiceBusTrigger")).unwrap();
        assert_eq!(
            row.split_whitespace().collect::<Vec<_>>(),
            ["ServiceBusTrigger", "1", "1", "0", "0", "0.012", "s"],
            "{summary}"
        );
        assert!(summary.contains("ServiceBusTrigger"), "{summary}");
        assert!(summary.contains("notifications"), "{summary}");
        assert!(summary.contains("invocation time: 0.012 s"), "{summary}");
    }
}
