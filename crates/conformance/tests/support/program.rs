//! Random `Script` programs: nested all/any of activities, timers, events, sub-orchestrations and entity calls,
//! with signals, custom status, failures and continue-as-new in between.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use durabletask_conformance::script::{Program, Step};

use super::rng::Rng;

/// The event names programs wait for; the engine raises them in random letter case.
pub const EVENT_NAMES: [&str; 3] = ["Go", "Approval", "Tick"];

const ENTITIES: [&str; 4] = ["@counter@k0", "@counter@k1", "@counter@k2", "@Counter@k1"];
const STRINGS: [&str; 10] = [
    "a",
    "two",
    "it's",
    "say \"hi\"",
    "é",
    "tab\there",
    "back\\slash",
    "",
    "✓ ok",
    "new\nline",
];
const KEYS: [&str; 5] = ["k", "a", "z", "value", "it's"];
const FLOATS: [f64; 6] = [1.5, 0.1, -2.0, 1e16, 1.5e-5, 3.0];
const FAILURE_MESSAGES: [&str; 3] = ["nope", "it's broken", "Ünïcode ✓"];

/// What the generator may use; the conformance test turns off constructs with known differences.
#[derive(Debug, Clone, Copy)]
pub struct Features {
    /// Timers longer than the three-day maximum (split into chained timers) inside `any`.
    pub long_timers_in_any: bool,
    /// Critical sections (`lock` steps) among the top-level steps. Off, the generator draws exactly the random
    /// numbers it drew before locks existed, so the programs of a seed stay the same.
    pub locks: bool,
}

/// Builds one random program for root instance `root_id`.
pub fn program(rng: &mut Rng, root_id: &str, features: Features) -> Program {
    let mut generator = Generator {
        rng,
        root_id,
        features,
        children: 0,
        leaves_left: 14,
    };
    generator.program(0)
}

struct Generator<'a> {
    rng: &'a mut Rng,
    root_id: &'a str,
    features: Features,
    children: u32,
    leaves_left: u32,
}

impl Generator<'_> {
    fn program(&mut self, depth: u32) -> Program {
        let count = self.rng.between(1, if depth == 0 { 5 } else { 3 }) as usize;
        let mut steps = Vec::with_capacity(count);
        let mut continued = false;
        for _ in 0..count {
            if self.features.locks && self.rng.percent(30) {
                steps.push(self.critical_section(depth));
                continue;
            }
            match self.rng.weighted(&[70, 8, 7, 3, 5]) {
                1 => steps.push(Step::Signal {
                    entity: self.entity(),
                    operation: self.operation(),
                    input: self.operation_input(),
                }),
                2 => steps.push(Step::Status { value: self.value(2) }),
                3 => steps.push(Step::Fail {
                    message: self.rng.pick(&FAILURE_MESSAGES).to_string(),
                }),
                4 if !continued => {
                    continued = true;
                    steps.push(Step::ContinueAsNew {
                        times: self.rng.between(1, 2) as u32,
                    });
                }
                _ => steps.push(self.awaited(depth, 0, false)),
            }
        }
        Program { steps, gen: 0 }
    }

    /// An awaited step; `nesting` counts enclosing all/any, `in_any` whether one of them is an `any`.
    fn awaited(&mut self, depth: u32, nesting: u32, in_any: bool) -> Step {
        let composites = if nesting < 3 && self.leaves_left > 2 { 10 } else { 0 };
        let subs = if depth < 2 && self.leaves_left > 3 { 8 } else { 0 };
        match self.rng.weighted(&[30, 12, 10, 12, subs, composites, composites]) {
            0 => {
                self.leaves_left = self.leaves_left.saturating_sub(1);
                let name = if self.rng.percent(80) { "echo" } else { "boom" };
                let input = if self.rng.percent(15) {
                    None
                } else {
                    Some(self.value(2))
                };
                let tags = self.rng.percent(20).then(|| {
                    let mut tags = BTreeMap::new();
                    tags.insert("team".to_string(), self.rng.pick(&STRINGS).to_string());
                    if self.rng.percent(50) {
                        tags.insert("kind".to_string(), "conformance".to_string());
                    }
                    tags
                });
                Step::Activity {
                    name: name.into(),
                    input,
                    tags,
                }
            }
            1 => {
                self.leaves_left = self.leaves_left.saturating_sub(1);
                Step::Timer {
                    seconds: self.timer_seconds(in_any),
                }
            }
            2 => {
                self.leaves_left = self.leaves_left.saturating_sub(1);
                let timeout = self.rng.percent(30).then(|| self.timer_seconds(in_any));
                Step::Event {
                    name: self.rng.pick(&EVENT_NAMES).to_string(),
                    timeout,
                }
            }
            3 => {
                self.leaves_left = self.leaves_left.saturating_sub(1);
                Step::CallEntity {
                    entity: self.entity(),
                    operation: self.operation(),
                    input: self.operation_input(),
                }
            }
            4 => {
                self.leaves_left = self.leaves_left.saturating_sub(1);
                self.children += 1;
                let id = self
                    .rng
                    .percent(50)
                    .then(|| format!("{}-child{}", self.root_id, self.children));
                let child = self.program(depth + 1);
                Step::Sub {
                    input: serde_json::to_value(child).expect("programs encode"),
                    id,
                    version: None,
                }
            }
            kind => {
                let is_any = kind == 6;
                let count = self.rng.between(1, 4) as usize;
                let of = (0..count)
                    .map(|_| self.awaited(depth, nesting + 1, in_any || is_any))
                    .collect();
                if is_any {
                    Step::Any { of }
                } else {
                    Step::All { of }
                }
            }
        }
    }

    /// A `lock` step: one to three counters (duplicates and letter case included), and steps inside that mostly
    /// keep the locking rules (calls to the locked entities one at a time, activities, timers) and sometimes break
    /// one (a signal to a locked entity, a call to another one, a nested lock).
    fn critical_section(&mut self, depth: u32) -> Step {
        let entities: Vec<String> = (0..self.rng.between(1, 3)).map(|_| self.entity()).collect();
        let mut steps = Vec::new();
        for _ in 0..self.rng.between(0, 4) {
            let locked = self.rng.pick(&entities).clone();
            steps.push(match self.rng.weighted(&[50, 15, 10, 4, 4, 4, 3]) {
                0 => Step::CallEntity {
                    entity: locked,
                    operation: self.operation(),
                    input: self.operation_input(),
                },
                1 => Step::Activity {
                    name: "echo".into(),
                    input: Some(self.value(1)),
                    tags: None,
                },
                2 => Step::Timer {
                    seconds: self.rng.between(1, 120),
                },
                3 => Step::Signal {
                    entity: locked,
                    operation: self.operation(),
                    input: self.operation_input(),
                },
                4 => Step::CallEntity {
                    entity: "@counter@unlocked".into(),
                    operation: "get".into(),
                    input: None,
                },
                5 => Step::Lock {
                    entities: vec![locked],
                    steps: Vec::new(),
                },
                _ => Step::Fail {
                    message: self.rng.pick(&FAILURE_MESSAGES).to_string(),
                },
            });
        }
        if depth == 0 && self.rng.percent(10) {
            steps.push(Step::ContinueAsNew { times: 1 });
        }
        Step::Lock { entities, steps }
    }

    fn timer_seconds(&mut self, in_any: bool) -> i64 {
        const DAY: i64 = 24 * 60 * 60;
        match self.rng.weighted(&[5, 70, 15, 10]) {
            0 => self.rng.between(-5, 0),
            1 => self.rng.between(1, 120),
            2 => self.rng.between(3600, DAY),
            _ if in_any && !self.features.long_timers_in_any => self.rng.between(1, 120),
            _ => self.rng.between(3 * DAY + 1, 9 * DAY),
        }
    }

    fn entity(&mut self) -> String {
        self.rng.pick(&ENTITIES).to_string()
    }

    fn operation(&mut self) -> String {
        ["add", "add", "add", "get", "get", "fail", "delete", "rename"][self.rng.below(8)].to_string()
    }

    fn operation_input(&mut self) -> Option<Value> {
        Some(json!(self.rng.between(-3, 10)))
    }

    /// A random JSON value, nested at most `depth` levels.
    fn value(&mut self, depth: u32) -> Value {
        let nested = if depth > 0 { 10 } else { 0 };
        match self.rng.weighted(&[10, 10, 25, 8, 27, nested, nested]) {
            0 => Value::Null,
            1 => Value::Bool(self.rng.percent(50)),
            2 => json!(self.rng.between(-5, 1000)),
            3 => json!(*self.rng.pick(&FLOATS)),
            4 => json!(*self.rng.pick(&STRINGS)),
            5 => Value::Array((0..self.rng.below(4)).map(|_| self.value(depth - 1)).collect()),
            _ => {
                let mut object = Map::new();
                for _ in 0..self.rng.below(4) {
                    object.insert(self.rng.pick(&KEYS).to_string(), self.value(depth - 1));
                }
                Value::Object(object)
            }
        }
    }
}

/// The names of the events a program waits for directly (not those of its sub-orchestrations), one per wait.
pub fn awaited_event_names(program: &Program) -> Vec<String> {
    fn collect(step: &Step, names: &mut Vec<String>) {
        match step {
            Step::Event { name, .. } => names.push(name.clone()),
            Step::All { of } | Step::Any { of } => of.iter().for_each(|child| collect(child, names)),
            _ => {}
        }
    }
    let mut names = Vec::new();
    program.steps.iter().for_each(|step| collect(step, &mut names));
    names
}
