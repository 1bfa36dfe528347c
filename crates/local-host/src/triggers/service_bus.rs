//! Service Bus delivery from message files, at least once like the real broker: messages are planned
//! (stable ids, optional seeded duplicates and shuffle), delivered to their trigger functions with up to
//! `maxConcurrentCalls` in flight, abandoned and redelivered with `DeliveryCount + 1` when an invocation
//! fails, and dead-lettered once the delivery count reaches the maximum.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::Utc;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::app_model::FunctionApp;
use crate::handler::process::HandlerUnavailable;
use crate::invocation::envelope::SystemBindingData;
use crate::invocation::invoke::{InvokeError, Invoker};
use crate::invocation::payloads::{
    add_durable_clients, service_bus_request, DeliveryAttributes, DurableClientSettings,
};
use crate::output::published::Records;
use crate::output::stats::Stats;
use crate::triggers::messages::{DeadLetteredMessage, MessageLine, ServiceBusMessage, MAX_DELIVERY_COUNT_EXCEEDED};

/// Service Bus's default `MaxDeliveryCount`.
pub const DEFAULT_MAX_DELIVERY_COUNT: u32 = 10;
/// The seed used for duplicates when no shuffle seed is given.
pub const DEFAULT_SEED: u64 = 0x05EE_D0F1_0CA1;

/// A small deterministic generator (SplitMix64): the same seed gives the same plan on every platform and
/// with every dependency version.
#[derive(Debug, Clone)]
pub struct SeededRandom(u64);

impl SeededRandom {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// A number in `[0, 1)`.
    pub fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// A number in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }

    /// Shuffles `items` (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for index in (1..items.len()).rev() {
            items.swap(index, self.below(index + 1));
        }
    }
}

/// How to turn message-file lines into deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PlanOptions {
    /// Shuffle the messages with this seed (file order when `None`).
    pub shuffle_seed: Option<u64>,
    /// The share of messages sent a second time with the same `MessageId` (0 to 1).
    pub duplicate_ratio: f64,
}

/// A message ready to be enqueued.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedMessage {
    /// The message, with its `MessageId` set.
    pub message: ServiceBusMessage,
    /// The broker's sequence number (1, 2, ... in enqueue order before shuffling).
    pub sequence_number: i64,
    /// Whether this is a re-sent copy of an earlier message.
    pub duplicate: bool,
}

/// A stable `MessageId` for a message without one: derived from its line and content, so a re-run sends
/// the same ids.
pub fn stable_message_id(line: usize, message: &ServiceBusMessage) -> String {
    let name = format!("{line}\n{}\n{}", message.function, message.body_text());
    Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes()).simple().to_string()
}

/// Plans the deliveries of `lines`: ids filled in, duplicates added (each right after the original
/// when not shuffling), then shuffled when a seed is given.
pub fn plan_deliveries(lines: &[MessageLine], options: PlanOptions) -> Vec<PlannedMessage> {
    let mut random = SeededRandom::new(options.shuffle_seed.unwrap_or(DEFAULT_SEED));
    let mut planned = Vec::with_capacity(lines.len());
    let mut sequence_number = 0;
    for line in lines {
        let mut message = line.message.clone();
        if message.message_id.is_none() {
            message.message_id = Some(stable_message_id(line.line, &message));
        }
        sequence_number += 1;
        let duplicate = options.duplicate_ratio > 0.0 && random.next_unit() < options.duplicate_ratio;
        planned.push(PlannedMessage {
            message: message.clone(),
            sequence_number,
            duplicate: false,
        });
        if duplicate {
            sequence_number += 1;
            planned.push(PlannedMessage {
                message,
                sequence_number,
                duplicate: true,
            });
        }
    }
    if options.shuffle_seed.is_some() {
        random.shuffle(&mut planned);
    }
    planned
}

/// What happens to a message after a failed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Abandoned: delivered again with this delivery count.
    Redeliver {
        /// The next `DeliveryCount`.
        delivery_count: u32,
    },
    /// Moved to the dead-letter queue (`MaxDeliveryCountExceeded`).
    DeadLetter,
}

/// Service Bus's rule: a message whose delivery count reached `max_delivery_count` is dead-lettered.
pub fn after_failure(delivery_count: u32, max_delivery_count: u32) -> AfterFailure {
    if delivery_count >= max_delivery_count {
        AfterFailure::DeadLetter
    } else {
        AfterFailure::Redeliver {
            delivery_count: delivery_count + 1,
        }
    }
}

/// What deliveries need from the host.
#[derive(Debug, Clone)]
pub struct DeliveryContext {
    /// The app.
    pub app: Arc<FunctionApp>,
    /// The invoker.
    pub invoker: Arc<Invoker>,
    /// Statistics.
    pub stats: Arc<Stats>,
    /// Published and dead-lettered records.
    pub records: Arc<Records>,
    /// The `durableClient` binding settings.
    pub client_settings: DurableClientSettings,
    /// Messages in flight at once.
    pub max_concurrent_calls: usize,
    /// Deliveries before dead-lettering.
    pub max_delivery_count: u32,
}

/// Why a batch could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// A message names a function that has no Service Bus trigger.
    #[error("message {message_id}: \"{function}\" is not a Service Bus triggered function of this app")]
    NotServiceBusFunction {
        /// The function named.
        function: String,
        /// The message.
        message_id: String,
    },
    /// The handler is gone for good.
    #[error(transparent)]
    HandlerUnavailable(#[from] HandlerUnavailable),
}

struct Attempt {
    planned: PlannedMessage,
    delivery_count: u32,
    enqueued_at: chrono::DateTime<Utc>,
}

/// Delivers `planned` messages until each is completed or dead-lettered.
pub async fn deliver(context: &DeliveryContext, planned: Vec<PlannedMessage>) -> Result<(), DeliveryError> {
    for message in &planned {
        let function = &message.message.function;
        let is_service_bus = context
            .app
            .function(function)
            .is_some_and(|f| matches!(f.trigger.kind, crate::app_model::TriggerKind::ServiceBus { .. }));
        if !is_service_bus {
            return Err(DeliveryError::NotServiceBusFunction {
                function: function.clone(),
                message_id: message.message.message_id.clone().unwrap_or_default(),
            });
        }
    }
    context.stats.messages_enqueued(planned.len() as u64);
    // The topic's audit subscription keeps its own copy of every message sent, whatever happens to it here.
    context.records.audit(planned.iter().map(|planned| &planned.message));
    let enqueued_at = Utc::now();
    let mut queue: VecDeque<Attempt> = planned
        .into_iter()
        .map(|planned| Attempt {
            planned,
            delivery_count: 1,
            enqueued_at,
        })
        .collect();
    let mut running: JoinSet<(Attempt, Result<(), InvokeError>)> = JoinSet::new();
    let concurrency = context.max_concurrent_calls.max(1);
    loop {
        while running.len() < concurrency {
            let Some(attempt) = queue.pop_front() else { break };
            let context = context.clone();
            running.spawn(async move {
                let outcome = deliver_once(&context, &attempt).await;
                (attempt, outcome)
            });
        }
        let Some(joined) = running.join_next().await else { break };
        let (attempt, outcome) = joined.expect("delivery tasks do not panic");
        match outcome {
            Ok(()) => context.stats.message_completed(),
            Err(InvokeError::Unavailable(unavailable)) => return Err(unavailable.into()),
            Err(error) => match after_failure(attempt.delivery_count, context.max_delivery_count) {
                AfterFailure::Redeliver { delivery_count } => {
                    context.stats.message_redelivered();
                    queue.push_back(Attempt {
                        delivery_count,
                        ..attempt
                    });
                }
                AfterFailure::DeadLetter => {
                    tracing::warn!(
                        message_id = attempt.planned.message.message_id.as_deref().unwrap_or_default(),
                        "message dead-lettered after {} deliveries: {error}",
                        attempt.delivery_count
                    );
                    context.stats.message_dead_lettered();
                    context.records.dead_letter(DeadLetteredMessage {
                        message: attempt.planned.message,
                        delivery_count: attempt.delivery_count,
                        reason: MAX_DELIVERY_COUNT_EXCEEDED.into(),
                        error: error.to_string(),
                    });
                }
            },
        }
    }
    Ok(())
}

async fn deliver_once(context: &DeliveryContext, attempt: &Attempt) -> Result<(), InvokeError> {
    let message = &attempt.planned.message;
    let function = context
        .app
        .function(&message.function)
        .expect("checked before delivery");
    let attributes = DeliveryAttributes {
        message_id: message.message_id.clone().unwrap_or_default(),
        delivery_count: attempt.delivery_count,
        sequence_number: attempt.planned.sequence_number,
        enqueued_at: attempt.enqueued_at,
        lock_token: Uuid::new_v4(),
        namespace: "localhost".into(),
    };
    let mut request = service_bus_request(function, message, &attributes, &SystemBindingData::now(&function.name));
    add_durable_clients(function, &context.client_settings, &mut request);
    context.stats.message_delivered();
    context.invoker.invoke(function, &request).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines(count: usize) -> Vec<MessageLine> {
        (1..=count)
            .map(|line| MessageLine {
                line,
                message: ServiceBusMessage::new("ServiceBusTrigger", json!({"n": line})),
            })
            .collect()
    }

    #[test]
    fn redelivery_until_the_max_delivery_count_then_dead_letter() {
        assert_eq!(after_failure(1, 10), AfterFailure::Redeliver { delivery_count: 2 });
        assert_eq!(after_failure(9, 10), AfterFailure::Redeliver { delivery_count: 10 });
        assert_eq!(after_failure(10, 10), AfterFailure::DeadLetter);
        assert_eq!(after_failure(1, 1), AfterFailure::DeadLetter);
    }

    #[test]
    fn plan_in_file_order_with_stable_ids() {
        let planned = plan_deliveries(&lines(3), PlanOptions::default());
        assert_eq!(
            planned.iter().map(|p| p.sequence_number).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert!(planned.iter().all(|p| !p.duplicate));
        let again = plan_deliveries(&lines(3), PlanOptions::default());
        assert_eq!(planned, again);
        let ids: std::collections::HashSet<_> = planned.iter().map(|p| p.message.message_id.clone().unwrap()).collect();
        assert_eq!(ids.len(), 3);
        let mut given = lines(1);
        given[0].message.message_id = Some("m-1".into());
        assert_eq!(
            plan_deliveries(&given, PlanOptions::default())[0]
                .message
                .message_id
                .as_deref(),
            Some("m-1")
        );
    }

    #[test]
    fn seeded_shuffle_is_deterministic_and_a_permutation() {
        let options = PlanOptions {
            shuffle_seed: Some(42),
            duplicate_ratio: 0.0,
        };
        let first = plan_deliveries(&lines(20), options);
        assert_eq!(first, plan_deliveries(&lines(20), options));
        let mut order: Vec<i64> = first.iter().map(|p| p.sequence_number).collect();
        assert_ne!(order, (1..=20).collect::<Vec<_>>(), "seed 42 reorders 20 messages");
        order.sort_unstable();
        assert_eq!(order, (1..=20).collect::<Vec<_>>());
        let other = plan_deliveries(
            &lines(20),
            PlanOptions {
                shuffle_seed: Some(7),
                duplicate_ratio: 0.0,
            },
        );
        assert_ne!(first, other);
    }

    #[test]
    fn duplicates_share_the_message_id() {
        let planned = plan_deliveries(
            &lines(200),
            PlanOptions {
                shuffle_seed: None,
                duplicate_ratio: 0.3,
            },
        );
        let duplicates: Vec<&PlannedMessage> = planned.iter().filter(|p| p.duplicate).collect();
        assert!(
            (40..=80).contains(&duplicates.len()),
            "about 30% of 200, got {}",
            duplicates.len()
        );
        for (index, planned_message) in planned.iter().enumerate() {
            if planned_message.duplicate {
                assert_eq!(
                    planned[index - 1].message,
                    planned_message.message,
                    "a copy follows its original"
                );
            }
        }
        let all = plan_deliveries(
            &lines(5),
            PlanOptions {
                shuffle_seed: None,
                duplicate_ratio: 1.0,
            },
        );
        assert_eq!(all.len(), 10);
    }

    #[test]
    fn random_numbers_are_in_range() {
        let mut random = SeededRandom::new(1);
        for _ in 0..1000 {
            let unit = random.next_unit();
            assert!((0.0..1.0).contains(&unit));
            assert!(random.below(3) < 3);
        }
    }
}
