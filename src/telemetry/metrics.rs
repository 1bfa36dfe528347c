//! The app's OpenTelemetry metrics (meter `returns-aggregator`; failed orchestrations are counted by the SDK,
//! `durabletask.orchestrations.failed`). Instruments are made on first use from the global
//! meter provider, which [`super::Telemetry::init`] installs first; without one they are no-ops (router tests).

use std::sync::OnceLock;

use opentelemetry::metrics::{Counter, Histogram};
use opentelemetry::KeyValue;

/// The meter's name (the OpenTelemetry instrumentation scope).
pub const METER_NAME: &str = "returns-aggregator";

/// Metric names, as the operations queries (`ops/`) read them.
pub mod names {
    /// Events the ingress accepted and signalled to their return, by `event.type`.
    pub const EVENTS_ACCEPTED: &str = "returns.events.accepted";
    /// Events a return had already recorded, by `event.type`.
    pub const EVENTS_DUPLICATE: &str = "returns.events.duplicate";
    /// Events kept on the invalid-events queue, by `reason` (and `event.type` when known).
    pub const EVENTS_INVALID: &str = "returns.events.invalid";
    /// Settled notifications handed to the notifications topic.
    pub const NOTIFICATIONS_PUBLISHED: &str = "returns.notifications.published";
    /// Stuck-return alerts handed to the alerts queue.
    pub const STUCK_ALERTS: &str = "returns.alerts.stuck";
    /// Instances the purge deleted.
    pub const PURGED_INSTANCES: &str = "returns.purge.instances";
    /// Empty entities the purge's clean-up removed.
    pub const PURGED_ENTITIES: &str = "returns.purge.entities";
    /// Seconds from a return's first event to its notification.
    pub const SETTLE_SECONDS: &str = "returns.settle.duration";
    /// Spans the exporter dropped because its queue was full (the collector is slow or unreachable).
    pub const SPANS_DROPPED: &str = "returns.telemetry.spans_dropped";
}

/// The app's instruments.
pub struct Metrics {
    accepted: Counter<u64>,
    duplicate: Counter<u64>,
    invalid: Counter<u64>,
    published: Counter<u64>,
    stuck: Counter<u64>,
    purged_instances: Counter<u64>,
    purged_entities: Counter<u64>,
    settle: Histogram<f64>,
}

/// The instruments (made on first use).
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let meter = opentelemetry::global::meter(METER_NAME);
        let counter = |name: &'static str, description: &'static str| {
            meter.u64_counter(name).with_description(description).build()
        };
        Metrics {
            accepted: counter(names::EVENTS_ACCEPTED, "events accepted and signalled to their return"),
            duplicate: counter(names::EVENTS_DUPLICATE, "events their return had already recorded"),
            invalid: counter(names::EVENTS_INVALID, "events kept on the invalid-events queue"),
            published: counter(names::NOTIFICATIONS_PUBLISHED, "settled notifications published"),
            stuck: counter(names::STUCK_ALERTS, "stuck-return alerts published"),
            purged_instances: counter(names::PURGED_INSTANCES, "instances deleted by the purge"),
            purged_entities: counter(names::PURGED_ENTITIES, "empty entities removed by the purge"),
            settle: meter
                .f64_histogram(names::SETTLE_SECONDS)
                .with_unit("s")
                .with_description("time from a return's first event to its notification")
                .with_boundaries(vec![
                    60.0,
                    600.0,
                    3_600.0,
                    21_600.0,
                    86_400.0,
                    259_200.0,
                    604_800.0,
                    1_209_600.0,
                    2_592_000.0,
                ])
                .build(),
        }
    })
}

impl Metrics {
    /// An event accepted by the ingress.
    pub fn event_accepted(&self, event_type: &str) {
        self.accepted
            .add(1, &[KeyValue::new("event.type", event_type.to_owned())]);
    }

    /// An event its return had already recorded.
    pub fn event_duplicate(&self, event_type: &str) {
        self.duplicate
            .add(1, &[KeyValue::new("event.type", event_type.to_owned())]);
    }

    /// An event kept on the invalid-events queue for `reason`.
    pub fn event_invalid(&self, reason: &str, event_type: Option<&str>) {
        let mut attributes = vec![KeyValue::new("reason", reason.to_owned())];
        if let Some(event_type) = event_type {
            attributes.push(KeyValue::new("event.type", event_type.to_owned()));
        }
        self.invalid.add(1, &attributes);
    }

    /// A settled notification published, `settle_seconds` after the return's first event.
    pub fn notification_published(&self, settle_seconds: Option<f64>) {
        self.published.add(1, &[]);
        if let Some(seconds) = settle_seconds {
            self.settle.record(seconds.max(0.0), &[]);
        }
    }

    /// A stuck-return alert published.
    pub fn stuck_alert(&self) {
        self.stuck.add(1, &[]);
    }

    /// What one purge run deleted.
    pub fn purged(&self, instances: u64, entities: u64) {
        self.purged_instances.add(instances, &[]);
        self.purged_entities.add(entities, &[]);
    }
}
