//! A simulated durable engine that drives a `Script` program to completion, asking both SDKs at every step.
//!
//! It keeps histories the way durabletask-python's in-memory engine does (an episode's new events, then one
//! confirmation event per action, then `orchestratorCompleted`; engine events carry id -1 and an empty
//! timestamp), and plays every other part itself: it runs activities and entity batches (through both SDKs too),
//! fires timers, starts sub-orchestrations, raises the external events the programs wait for, and continues
//! instances as new. It also suspends and resumes instances, sometimes terminates a root, and sometimes delivers
//! a task's completion twice. What it delivers, and when, is chosen by a seeded random generator: completions
//! arrive in any order, several to an episode, events before or after their waits (names in any letter case),
//! and time moves forward with every episode (past each timer's fire time when the timer fires).
//!
//! Every request goes to our executor and to the Python oracle; their normalised responses must be equal, and
//! the engine goes on with Python's. The first difference ends the program as a [`Finding`].

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use prost_types::Timestamp;

use durabletask_conformance::diff::first_difference;
use durabletask_conformance::oracle::Oracle;
use durabletask_conformance::script::{Program, SCRIPT};
use durabletask_conformance::wire::{self, Request, Response};
use durabletask_sdk::entity::entity_batch_from_v2;
use durabletask_sdk::proto::operation_result::ResultType;
use durabletask_sdk::proto::orchestrator_action::OrchestratorActionType as Action;
use durabletask_sdk::proto::send_entity_message_action::EntityMessageType;
use durabletask_sdk::proto::{self, history_event::EventType};
use durabletask_sdk::Registry;

use super::program::awaited_event_names;
use super::rng::Rng;

/// The most engine steps one program may take before it counts as stuck.
const MAX_TICKS: usize = 3_000;

/// A difference between the SDKs, or a program the engine could not finish.
#[derive(Debug)]
pub struct Finding {
    /// Where: the program's root instance, the instance and the request kind.
    pub context: String,
    /// The difference (or the problem).
    pub detail: String,
    /// The request both were given, base64 protobuf (empty when there is none).
    pub request: String,
}

/// What the simulations did, to show the tests cover what they claim.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub programs: usize,
    pub episodes: usize,
    pub activities: usize,
    pub activity_failures: usize,
    pub timers: usize,
    pub sub_orchestrations: usize,
    pub entity_calls: usize,
    pub entity_signals: usize,
    pub entity_batches: usize,
    pub events_raised: usize,
    pub continued_as_new: usize,
    pub suspensions: usize,
    pub duplicates: usize,
    pub completed: usize,
    pub failed: usize,
    pub terminated: usize,
    pub locks_granted: usize,
    pub unlocks: usize,
}

impl Stats {
    /// Adds another simulation's counts.
    pub fn merge(&mut self, other: &Stats) {
        self.programs += other.programs;
        self.episodes += other.episodes;
        self.activities += other.activities;
        self.activity_failures += other.activity_failures;
        self.timers += other.timers;
        self.sub_orchestrations += other.sub_orchestrations;
        self.entity_calls += other.entity_calls;
        self.entity_signals += other.entity_signals;
        self.entity_batches += other.entity_batches;
        self.locks_granted += other.locks_granted;
        self.unlocks += other.unlocks;
        self.events_raised += other.events_raised;
        self.continued_as_new += other.continued_as_new;
        self.suspensions += other.suspensions;
        self.duplicates += other.duplicates;
        self.completed += other.completed;
        self.failed += other.failed;
        self.terminated += other.terminated;
    }
}

/// An instance's last execution ended.
#[derive(Debug, Clone, PartialEq)]
enum Ended {
    Completed(Option<String>),
    Failed(proto::TaskFailureDetails),
    Terminated,
}

/// Where a sub-orchestration reports to.
#[derive(Debug, Clone)]
struct ParentLink {
    instance_id: String,
    execution: u32,
    task_id: i32,
}

struct Instance {
    /// Bumped by continue-as-new; deliveries addressed to an older execution are dropped.
    execution: u32,
    history: Vec<proto::HistoryEvent>,
    inbox: Vec<proto::HistoryEvent>,
    parent: Option<ParentLink>,
    ended: Option<Ended>,
    event_names: Vec<String>,
}

enum Delivery {
    /// An event for an instance's next episode; `not_before` moves the clock (timers).
    Event {
        instance_id: String,
        execution: u32,
        event: Box<proto::HistoryEvent>,
        not_before: Option<DateTime<Utc>>,
    },
    /// Run the messages waiting for an entity as one batch.
    RunEntity(String),
}

/// One simulation: a root program and everything it starts.
pub struct Engine<'a> {
    registry: &'a Registry,
    oracle: &'a mut Oracle,
    rng: Rng,
    clock: DateTime<Utc>,
    instances: BTreeMap<String, Instance>,
    entity_states: BTreeMap<String, Option<String>>,
    mailboxes: BTreeMap<String, Vec<proto::HistoryEvent>>,
    /// The last execution number given to each instance id (kept when an instance is abandoned, so deliveries
    /// meant for an abandoned instance never reach a new one with the same id).
    executions: BTreeMap<String, u32>,
    /// Entity call request id → the calling instance and execution.
    callers: BTreeMap<String, (String, u32)>,
    deliveries: Vec<Delivery>,
    root: String,
    /// Whether the root instance is sometimes terminated by the engine.
    terminations: bool,
    pub stats: Stats,
}

impl<'a> Engine<'a> {
    pub fn new(registry: &'a Registry, oracle: &'a mut Oracle, rng: Rng, start: DateTime<Utc>) -> Self {
        Engine {
            registry,
            oracle,
            rng,
            clock: start,
            instances: BTreeMap::new(),
            entity_states: BTreeMap::new(),
            mailboxes: BTreeMap::new(),
            executions: BTreeMap::new(),
            callers: BTreeMap::new(),
            deliveries: Vec::new(),
            root: String::new(),
            terminations: true,
            stats: Stats::default(),
        }
    }

    /// Never terminates the root instance (the random numbers drawn stay the same).
    pub fn without_terminations(mut self) -> Self {
        self.terminations = false;
        self
    }

    /// Runs `program` as instance `root` until it completes, fails, or the SDKs differ.
    pub fn run(&mut self, root: &str, program: &Program) -> Result<(), Finding> {
        self.root = root.to_string();
        self.stats.programs += 1;
        let input = serde_json::to_string(program).expect("programs encode");
        self.start_instance(root, Some(input), None);
        for _ in 0..MAX_TICKS {
            if self.instances[root].ended.is_some() {
                return Ok(());
            }
            self.tick()?;
        }
        Err(self.finding(
            root,
            "the engine",
            format!("the program did not finish in {MAX_TICKS} engine steps"),
            None,
        ))
    }

    fn tick(&mut self) -> Result<(), Finding> {
        let runnable: Vec<String> = self
            .instances
            .iter()
            .filter(|(_, instance)| instance.ended.is_none() && !instance.inbox.is_empty())
            .map(|(id, _)| id.clone())
            .collect();
        if !self.deliveries.is_empty() && (runnable.is_empty() || self.rng.percent(60)) {
            let index = self.rng.below(self.deliveries.len());
            let delivery = self.deliveries.swap_remove(index);
            return self.deliver(delivery);
        }
        if !runnable.is_empty() {
            let instance_id = self.rng.pick(&runnable).clone();
            return self.episode(&instance_id);
        }
        // Everything left waits for external events (earlier ones went to waits that lost an `any`).
        let waiting: Vec<(String, u32, Vec<String>)> = self
            .instances
            .iter()
            .filter(|(_, instance)| instance.ended.is_none() && !instance.event_names.is_empty())
            .map(|(id, instance)| (id.clone(), instance.execution, instance.event_names.clone()))
            .collect();
        if waiting.is_empty() {
            let root = self.root.clone();
            return Err(self.finding(&root, "the engine", "no instance can make progress".into(), None));
        }
        for (instance_id, execution, names) in waiting {
            let mut unique = names;
            unique.sort();
            unique.dedup();
            for name in unique {
                self.raise_event(&instance_id, execution, &name);
            }
        }
        Ok(())
    }

    fn deliver(&mut self, delivery: Delivery) -> Result<(), Finding> {
        match delivery {
            Delivery::Event {
                instance_id,
                execution,
                event,
                not_before,
            } => {
                let Some(instance) = self.instances.get_mut(&instance_id) else {
                    return Ok(());
                };
                if instance.execution != execution || instance.ended.is_some() {
                    return Ok(());
                }
                instance.inbox.push((*event).clone());
                if let Some(time) = not_before {
                    self.clock = self.clock.max(time);
                }
                match &event.event_type {
                    // A suspended instance is resumed later; the events in between wait.
                    Some(EventType::ExecutionSuspended(_)) => {
                        self.stats.suspensions += 1;
                        let resumed = EventType::ExecutionResumed(proto::ExecutionResumedEvent { input: None });
                        self.push_event(&instance_id, execution, engine_event(resumed));
                    }
                    // At-least-once delivery: a task's completion may come twice. (Entity responses are left
                    // out: Python fails on a repeated one, a known difference with its own test.)
                    Some(
                        EventType::TaskCompleted(_)
                        | EventType::TaskFailed(_)
                        | EventType::TimerFired(_)
                        | EventType::SubOrchestrationInstanceCompleted(_)
                        | EventType::SubOrchestrationInstanceFailed(_),
                    ) if self.rng.percent(3) => {
                        self.stats.duplicates += 1;
                        self.deliveries.push(Delivery::Event {
                            instance_id,
                            execution,
                            event,
                            not_before,
                        });
                    }
                    _ => {}
                }
                Ok(())
            }
            Delivery::RunEntity(entity) => self.run_entity(&entity),
        }
    }

    // ------------------------------------------------------------------ orchestrations

    fn start_instance(&mut self, instance_id: &str, input: Option<String>, parent: Option<ParentLink>) {
        let execution = *self
            .executions
            .entry(instance_id.to_string())
            .and_modify(|last| *last += 1)
            .or_insert(0);
        let started = execution_started(instance_id, input.clone(), parent.as_ref());
        let program: Option<Program> = input.as_deref().and_then(|text| serde_json::from_str(text).ok());
        let event_names = program.as_ref().map(awaited_event_names).unwrap_or_default();
        self.instances.insert(
            instance_id.to_string(),
            Instance {
                execution,
                history: Vec::new(),
                inbox: vec![started],
                parent,
                ended: None,
                event_names: event_names.clone(),
            },
        );
        for name in event_names {
            self.raise_event(instance_id, execution, &name);
        }
        if self.rng.percent(10) {
            let suspended = EventType::ExecutionSuspended(proto::ExecutionSuspendedEvent { input: None });
            self.push_event(instance_id, execution, engine_event(suspended));
        }
        if instance_id == self.root && self.rng.percent(4) && self.terminations {
            let terminated = EventType::ExecutionTerminated(proto::ExecutionTerminatedEvent {
                input: Some("\"stopped by the engine\"".to_string()),
                recurse: false,
            });
            self.push_event(instance_id, execution, engine_event(terminated));
        }
    }

    /// Queues an external event, its name in a random letter case (names are case-insensitive).
    fn raise_event(&mut self, instance_id: &str, execution: u32, name: &str) {
        let name = match self.rng.below(3) {
            0 => name.to_lowercase(),
            1 => name.to_uppercase(),
            _ => name.to_string(),
        };
        let data = match self.rng.below(4) {
            0 => None,
            1 => Some(format!("{{\"from\": \"{name}\", \"n\": {}}}", self.rng.below(100))),
            2 => Some(format!("\"{name}\"")),
            _ => Some(self.rng.below(1000).to_string()),
        };
        self.stats.events_raised += 1;
        self.push_event(
            instance_id,
            execution,
            engine_event(EventType::EventRaised(proto::EventRaisedEvent { name, input: data })),
        );
    }

    fn push_event(&mut self, instance_id: &str, execution: u32, event: proto::HistoryEvent) {
        self.deliveries.push(Delivery::Event {
            instance_id: instance_id.to_string(),
            execution,
            event: Box::new(event),
            not_before: None,
        });
    }

    fn episode(&mut self, instance_id: &str) -> Result<(), Finding> {
        self.stats.episodes += 1;
        self.clock +=
            Duration::milliseconds(self.rng.between(1, 90_000)) + Duration::nanoseconds(self.rng.between(0, 999));
        let instance = self.instances.get_mut(instance_id).expect("runnable instances exist");
        let mut new_events = vec![orchestrator_started(self.clock)];
        new_events.append(&mut instance.inbox);
        // A termination goes last in its episode: Python keeps running the orchestrator for the events after it
        // (a known difference with its own test), which would end the comparison here.
        new_events.sort_by_key(|event| matches!(event.event_type, Some(EventType::ExecutionTerminated(_))));
        let request = proto::OrchestratorRequest {
            instance_id: instance_id.to_string(),
            past_events: instance.history.clone(),
            new_events: new_events.clone(),
            ..Default::default()
        };
        let response = self.differential(instance_id, Request::Orchestrator(request))?;
        let response = response
            .as_orchestrator()
            .expect("orchestrator requests get orchestrator responses")
            .clone();
        let execution = self.instances[instance_id].execution;
        self.instances
            .get_mut(instance_id)
            .expect("exists")
            .history
            .extend(new_events);
        for action in &response.actions {
            self.apply(instance_id, execution, action)?;
            if self.instances[instance_id].execution != execution {
                return Ok(()); // continued as new: the old history is gone
            }
        }
        let instance = self.instances.get_mut(instance_id).expect("exists");
        instance.history.push(engine_event(EventType::OrchestratorCompleted(
            proto::OrchestratorCompletedEvent {},
        )));
        Ok(())
    }

    fn apply(&mut self, instance_id: &str, execution: u32, action: &proto::OrchestratorAction) -> Result<(), Finding> {
        let id = action.id;
        let Some(kind) = &action.orchestrator_action_type else {
            return Ok(());
        };
        // While an instance is suspended, the confirmations that follow the suspension in history are held back
        // during replay, so both SDKs return those actions again; an action already confirmed is not redone.
        if self.instances[instance_id]
            .history
            .iter()
            .any(|event| event.event_id == id)
        {
            return Ok(());
        }
        match kind {
            Action::ScheduleTask(task) => {
                self.record(
                    instance_id,
                    confirmation(
                        id,
                        EventType::TaskScheduled(Box::new(proto::TaskScheduledEvent {
                            name: task.name.clone(),
                            input: task.input.clone(),
                            ..Default::default()
                        })),
                    ),
                );
                let completion = self.run_activity(instance_id, id, task)?;
                self.push_event(instance_id, execution, completion);
            }
            Action::CreateTimer(timer) => {
                self.stats.timers += 1;
                let fire_at = timer.fire_at.unwrap_or_default();
                self.record(
                    instance_id,
                    confirmation(
                        id,
                        EventType::TimerCreated(proto::TimerCreatedEvent { fire_at: Some(fire_at) }),
                    ),
                );
                self.deliveries.push(Delivery::Event {
                    instance_id: instance_id.to_string(),
                    execution,
                    event: Box::new(engine_event(EventType::TimerFired(proto::TimerFiredEvent {
                        fire_at: Some(fire_at),
                        timer_id: id,
                    }))),
                    not_before: Some(durabletask_sdk::time::to_datetime(&fire_at)),
                });
            }
            Action::CreateSubOrchestration(sub) => {
                self.stats.sub_orchestrations += 1;
                self.record(
                    instance_id,
                    confirmation(
                        id,
                        EventType::SubOrchestrationInstanceCreated(Box::new(
                            proto::SubOrchestrationInstanceCreatedEvent {
                                instance_id: sub.instance_id.clone(),
                                name: sub.name.clone(),
                                input: sub.input.clone(),
                                ..Default::default()
                            },
                        )),
                    ),
                );
                let parent = ParentLink {
                    instance_id: instance_id.to_string(),
                    execution,
                    task_id: id,
                };
                self.start_instance(&sub.instance_id, sub.input.clone(), Some(parent));
            }
            Action::SendEntityMessage(message) => match &message.entity_message_type {
                Some(EntityMessageType::EntityOperationSignaled(signal)) => {
                    self.stats.entity_signals += 1;
                    self.record(
                        instance_id,
                        confirmation(id, EventType::EntityOperationSignaled(signal.clone())),
                    );
                    let target = signal.target_instance_id.clone().unwrap_or_default();
                    self.send_to_entity(&target, EventType::EntityOperationSignaled(signal.clone()));
                }
                Some(EntityMessageType::EntityOperationCalled(call)) => {
                    self.stats.entity_calls += 1;
                    self.record(
                        instance_id,
                        confirmation(id, EventType::EntityOperationCalled(Box::new(call.clone()))),
                    );
                    self.callers
                        .insert(call.request_id.clone(), (instance_id.to_string(), execution));
                    let target = call.target_instance_id.clone().unwrap_or_default();
                    self.send_to_entity(&target, EventType::EntityOperationCalled(Box::new(call.clone())));
                }
                // Locks are granted at once (in a later tick): the simulation has no contention, and what is
                // compared is how both SDKs react to the grant, not the engine's queueing.
                Some(EntityMessageType::EntityLockRequested(request)) => {
                    self.stats.locks_granted += 1;
                    self.record(
                        instance_id,
                        confirmation(id, EventType::EntityLockRequested(request.clone())),
                    );
                    let granted = EventType::EntityLockGranted(proto::EntityLockGrantedEvent {
                        critical_section_id: request.critical_section_id.clone(),
                    });
                    self.push_event(instance_id, execution, engine_event(granted));
                }
                Some(EntityMessageType::EntityUnlockSent(unlock)) => {
                    self.stats.unlocks += 1;
                    self.record(
                        instance_id,
                        confirmation(id, EventType::EntityUnlockSent(unlock.clone())),
                    );
                }
                None => {}
            },
            Action::CompleteOrchestration(complete) => self.complete(instance_id, complete),
            Action::SendEvent(_) | Action::TerminateOrchestration(_) | Action::RewindOrchestration(_) => {}
        }
        Ok(())
    }

    fn record(&mut self, instance_id: &str, event: proto::HistoryEvent) {
        self.instances.get_mut(instance_id).expect("exists").history.push(event);
    }

    fn complete(&mut self, instance_id: &str, complete: &proto::CompleteOrchestrationAction) {
        let status = proto::OrchestrationStatus::try_from(complete.orchestration_status).ok();
        match status {
            Some(proto::OrchestrationStatus::ContinuedAsNew) => {
                self.stats.continued_as_new += 1;
                let parent = self.instances[instance_id].parent.clone();
                self.abandon_children(instance_id);
                self.start_instance(instance_id, complete.result.clone(), parent);
                let instance = self.instances.get_mut(instance_id).expect("restarted");
                instance.inbox.extend(complete.carryover_events.iter().cloned());
            }
            Some(proto::OrchestrationStatus::Completed) => {
                self.stats.completed += 1;
                self.end(instance_id, Ended::Completed(complete.result.clone()));
            }
            Some(proto::OrchestrationStatus::Terminated) => {
                self.stats.terminated += 1;
                self.end(instance_id, Ended::Terminated);
            }
            _ => {
                self.stats.failed += 1;
                self.end(
                    instance_id,
                    Ended::Failed(complete.failure_details.clone().unwrap_or_default()),
                );
            }
        }
    }

    /// Ends an instance and tells its parent, as the in-memory engine does (a failure reaches the parent as a
    /// plain `Exception` carrying only the message).
    fn end(&mut self, instance_id: &str, ended: Ended) {
        let instance = self.instances.get_mut(instance_id).expect("exists");
        instance.ended = Some(ended.clone());
        let Some(parent) = instance.parent.clone() else { return };
        let event = match ended {
            Ended::Completed(result) => {
                EventType::SubOrchestrationInstanceCompleted(proto::SubOrchestrationInstanceCompletedEvent {
                    task_scheduled_id: parent.task_id,
                    result,
                })
            }
            Ended::Failed(details) => sub_orchestration_failed(parent.task_id, details.error_message),
            Ended::Terminated => sub_orchestration_failed(parent.task_id, "Sub-orchestration failed".to_string()),
        };
        self.push_event(&parent.instance_id, parent.execution, engine_event(event));
    }

    /// A new execution does not wait for the old one's sub-orchestrations: they stop.
    fn abandon_children(&mut self, instance_id: &str) {
        let children: Vec<String> = self
            .instances
            .iter()
            .filter(|(_, child)| child.ended.is_none())
            .filter(|(_, child)| {
                child
                    .parent
                    .as_ref()
                    .is_some_and(|parent| parent.instance_id == instance_id)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for child in children {
            self.abandon_children(&child);
            self.instances.remove(&child);
        }
    }

    // ------------------------------------------------------------------ activities and entities

    fn run_activity(
        &mut self,
        instance_id: &str,
        task_id: i32,
        task: &proto::ScheduleTaskAction,
    ) -> Result<proto::HistoryEvent, Finding> {
        self.stats.activities += 1;
        let request = proto::ActivityRequest {
            name: task.name.clone(),
            input: task.input.clone(),
            orchestration_instance: Some(proto::OrchestrationInstance {
                instance_id: instance_id.to_string(),
                execution_id: None,
            }),
            task_id,
            ..Default::default()
        };
        let response = self.differential(instance_id, Request::Activity(request))?;
        let response = response
            .as_activity()
            .expect("activity requests get activity responses");
        let failed = response
            .failure_details
            .as_ref()
            .is_some_and(|details| !details.error_message.is_empty());
        Ok(if failed {
            self.stats.activity_failures += 1;
            engine_event(EventType::TaskFailed(Box::new(proto::TaskFailedEvent {
                task_scheduled_id: task_id,
                failure_details: response.failure_details.clone(),
            })))
        } else {
            engine_event(EventType::TaskCompleted(proto::TaskCompletedEvent {
                task_scheduled_id: task_id,
                result: response.result.clone(),
            }))
        })
    }

    fn send_to_entity(&mut self, entity: &str, message: EventType) {
        self.mailboxes
            .entry(entity.to_string())
            .or_default()
            .push(engine_event(message));
        self.deliveries.push(Delivery::RunEntity(entity.to_string()));
    }

    /// Runs some of the messages waiting for `entity` as one batch, in both request shapes, and routes the
    /// results of calls back to their callers.
    fn run_entity(&mut self, entity: &str) -> Result<(), Finding> {
        let mailbox = self.mailboxes.entry(entity.to_string()).or_default();
        if mailbox.is_empty() {
            return Ok(());
        }
        let count = 1 + self.rng.below(mailbox.len());
        let operations: Vec<proto::HistoryEvent> = mailbox.drain(..count).collect();
        self.stats.entity_batches += 1;
        let state = self.entity_states.get(entity).cloned().flatten();
        let v2 = proto::EntityRequest {
            instance_id: entity.to_string(),
            entity_state: state,
            operation_requests: operations,
            ..Default::default()
        };
        let v1 = entity_batch_from_v2(&v2).batch;
        self.differential(&self.root.clone(), Request::EntityV1(v1))?;
        let response = self.differential(&self.root.clone(), Request::EntityV2(v2))?;
        let result = response
            .as_entity()
            .expect("entity requests get entity results")
            .clone();
        self.entity_states
            .insert(entity.to_string(), result.entity_state.clone());
        for (outcome, info) in result.results.iter().zip(&result.operation_infos) {
            if info.response_destination.is_none() {
                continue;
            }
            let Some((caller, execution)) = self.callers.remove(&info.request_id) else {
                continue;
            };
            let event = match &outcome.result_type {
                Some(ResultType::Failure(failure)) => {
                    EventType::EntityOperationFailed(Box::new(proto::EntityOperationFailedEvent {
                        request_id: info.request_id.clone(),
                        failure_details: failure.failure_details.clone(),
                    }))
                }
                Some(ResultType::Success(success)) => {
                    EventType::EntityOperationCompleted(proto::EntityOperationCompletedEvent {
                        request_id: info.request_id.clone(),
                        output: success.result.clone(),
                    })
                }
                None => continue,
            };
            self.push_event(&caller, execution, engine_event(event));
        }
        Ok(())
    }

    // ------------------------------------------------------------------ the comparison

    /// Runs `request` through both SDKs; Python's response if the normalised responses are equal.
    fn differential(&mut self, instance_id: &str, request: Request) -> Result<Response, Finding> {
        let ours = wire::execute(self.registry, &request);
        let python = match self.oracle.execute(&request) {
            Ok(python) => python,
            Err(error) => {
                return Err(self.finding(
                    instance_id,
                    request.kind().key(),
                    format!("the oracle failed: {error}"),
                    Some(&request),
                ))
            }
        };
        match first_difference(&python.normalized(), &ours.normalized()) {
            None => Ok(python),
            Some(difference) => Err(self.finding(instance_id, request.kind().key(), difference, Some(&request))),
        }
    }

    fn finding(&self, instance_id: &str, what: &str, detail: String, request: Option<&Request>) -> Finding {
        Finding {
            context: format!("program {}, instance {instance_id}, {what}", self.root),
            detail,
            request: request.map(Request::encode_base64).unwrap_or_default(),
        }
    }
}

/// A sub-orchestration failure as the in-memory engine reports it: a plain `Exception` with only the message.
fn sub_orchestration_failed(task_id: i32, message: String) -> EventType {
    EventType::SubOrchestrationInstanceFailed(Box::new(proto::SubOrchestrationInstanceFailedEvent {
        task_scheduled_id: task_id,
        failure_details: Some(proto::TaskFailureDetails {
            error_type: "builtins.Exception".into(),
            error_message: message,
            stack_trace: Some(String::new()),
            ..Default::default()
        }),
    }))
}

/// An event the engine makes up: id -1, an empty timestamp.
fn engine_event(event_type: EventType) -> proto::HistoryEvent {
    proto::HistoryEvent {
        event_id: -1,
        timestamp: Some(Timestamp::default()),
        event_type: Some(event_type),
    }
}

/// An event confirming the action with sequence number `id`.
fn confirmation(id: i32, event_type: EventType) -> proto::HistoryEvent {
    proto::HistoryEvent {
        event_id: id,
        timestamp: Some(Timestamp::default()),
        event_type: Some(event_type),
    }
}

fn orchestrator_started(time: DateTime<Utc>) -> proto::HistoryEvent {
    proto::HistoryEvent {
        event_id: -1,
        timestamp: Some(durabletask_sdk::time::to_timestamp(time)),
        event_type: Some(EventType::OrchestratorStarted(proto::OrchestratorStartedEvent {})),
    }
}

fn execution_started(instance_id: &str, input: Option<String>, parent: Option<&ParentLink>) -> proto::HistoryEvent {
    engine_event(EventType::ExecutionStarted(Box::new(proto::ExecutionStartedEvent {
        name: SCRIPT.to_string(),
        input,
        orchestration_instance: Some(proto::OrchestrationInstance {
            instance_id: instance_id.to_string(),
            execution_id: None,
        }),
        parent_instance: parent.map(|parent| proto::ParentInstanceInfo {
            task_scheduled_id: parent.task_id,
            name: Some(SCRIPT.to_string()),
            version: None,
            orchestration_instance: Some(proto::OrchestrationInstance {
                instance_id: parent.instance_id.clone(),
                execution_id: None,
            }),
        }),
        ..Default::default()
    })))
}
