#!/usr/bin/env node
// Times the executors of the JavaScript SDK (@microsoft/durabletask-js, from npm) on the request vectors the Rust
// benches wrote, as scripts/bench_python_executors.py does for durabletask-python.
//
// Usage (scripts/bench-executors.sh installs the package into target/bench-js and sets NODE_PATH):
//     node scripts/bench_js_executors.js time [--dir DIR] [--samples N] [--min-sample-ms MS] [CASE...]
//
// Each timed run is what the JavaScript worker does with one work item: parse the request
// (`deserializeBinary`), run the executor (`OrchestrationExecutor.execute`, or `TaskEntityShim.executeAsync` for an
// entity batch), build the completion and serialize it. The registrations mirror the Rust benchmark app
// (crates/durabletask-sdk/benches/support/app.rs). Prints `case  median_us  iterations_per_sample  samples  answer`.
"use strict";

const fs = require("fs");
const path = require("path");

const sdk = "@microsoft/durabletask-js/dist";
const pb = require(`${sdk}/proto/orchestrator_service_pb`);
const { OrchestrationExecutor } = require(`${sdk}/worker/orchestration-executor`);
const { Registry } = require(`${sdk}/worker/registry`);
const { TaskEntityShim } = require(`${sdk}/worker/entity-executor`);
const { EntityInstanceId } = require(`${sdk}/entities/entity-instance-id`);
const { NoOpLogger } = require(`${sdk}/types/logger.type`);
const { whenAll } = require(`${sdk}/task`);

const COMPLETION_TOKEN = "bench-completion-token";
const DEFAULT_DIR = path.resolve(__dirname, "..", "target", "bench-vectors");

// ---- the benchmark app (same names and behaviour as the Rust registrations; the SDK runs async generators) ----

const echo = (_ctx, value) => value;

async function* chain(ctx, n) {
    let total = 0;
    for (let index = 0; index < n; index++) {
        total += yield ctx.callActivity("echo", index);
    }
    return total;
}

async function* fanOut(ctx, n) {
    const calls = [];
    for (let index = 0; index < n; index++) {
        calls.push(ctx.callActivity("echo", index));
    }
    const results = yield whenAll(calls);
    return results.reduce((sum, value) => sum + value, 0);
}

class Counter {
    run(operation) {
        const value = operation.state.getState(0);
        if (operation.name === "add") {
            const sum = value + operation.getInput();
            operation.state.setState(sum);
            return sum;
        }
        if (operation.name === "get") {
            return value;
        }
        throw new Error(`counter has no operation '${operation.name}'`);
    }
}

const registry = new Registry();
registry.addNamedActivity("echo", echo);
registry.addNamedOrchestrator("chain", chain);
registry.addNamedOrchestrator("fan_out", fanOut);
registry.addNamedEntity("counter", () => new Counter());
const logger = new NoOpLogger();

async function run(kind, bytes) {
    if (kind === "orchestrator") {
        const request = pb.OrchestratorRequest.deserializeBinary(bytes);
        const executor = new OrchestrationExecutor(registry, logger);
        const result = await executor.execute(
            request.getInstanceid(),
            request.getPasteventsList(),
            request.getNeweventsList(),
            request.getExecutionid()?.getValue(),
        );
        const response = new pb.OrchestratorResponse();
        response.setInstanceid(request.getInstanceid());
        response.setCompletiontoken(COMPLETION_TOKEN);
        response.setActionsList(result.actions);
        return response.serializeBinary();
    }
    if (kind === "entity_batch") {
        const request = pb.EntityBatchRequest.deserializeBinary(bytes);
        const entityId = EntityInstanceId.fromString(request.getInstanceid());
        const shim = new TaskEntityShim(registry.getEntity(entityId.name)(), entityId);
        const result = await shim.executeAsync(request);
        result.setCompletiontoken(COMPLETION_TOKEN);
        return result.serializeBinary();
    }
    throw new Error(`unknown request kind ${kind}`);
}

// The same summary the Rust side prints, to check both computed the same thing.
function answerOf(kind, bytes) {
    if (kind === "orchestrator") {
        const response = pb.OrchestratorResponse.deserializeBinary(bytes);
        for (const action of response.getActionsList()) {
            if (action.hasCompleteorchestration()) {
                const complete = action.getCompleteorchestration();
                if (complete.hasFailuredetails()) {
                    const details = complete.getFailuredetails();
                    return `failed: ${details.getErrortype()}: ${details.getErrormessage()}`;
                }
                return `output ${complete.hasResult() ? complete.getResult().getValue() : "null"}`;
            }
        }
        return `not completed (${response.getActionsList().length} actions)`;
    }
    const result = pb.EntityBatchResult.deserializeBinary(bytes);
    const succeeded = result.getResultsList().filter((r) => r.hasSuccess()).length;
    const state = result.hasEntitystate() ? result.getEntitystate().getValue() : "null";
    return `state ${state} after ${succeeded} successful operations`;
}

async function timeCase(kind, bytes, samples, minSampleMs) {
    const sample = async (iterations) => {
        const started = process.hrtime.bigint();
        for (let i = 0; i < iterations; i++) {
            await run(kind, bytes);
        }
        return Number(process.hrtime.bigint() - started) / 1e6;
    };
    let iterations = 1;
    for (;;) {
        // calibration doubles as the warm-up (and lets the JIT compile the hot paths)
        const elapsed = await sample(iterations);
        if (elapsed >= minSampleMs) break;
        const wanted = (minSampleMs / Math.max(elapsed, 1e-6)) * iterations;
        iterations = Math.max(iterations + 1, Math.min(Math.ceil(wanted), iterations * 10));
    }
    const perRun = [];
    for (let i = 0; i < samples; i++) {
        perRun.push((await sample(iterations)) / iterations);
    }
    perRun.sort((a, b) => a - b);
    return { medianMs: perRun[Math.floor(perRun.length / 2)], iterations };
}

async function main(argv) {
    const [mode, ...rest] = argv;
    if (mode !== "time") {
        throw new Error("usage: bench_js_executors.js time [--dir DIR] [--samples N] [--min-sample-ms MS] [CASE...]");
    }
    let dir = DEFAULT_DIR;
    let samples = 11;
    let minSampleMs = 50;
    const names = [];
    for (let i = 0; i < rest.length; i++) {
        const arg = rest[i];
        if (arg === "--dir") dir = rest[++i];
        else if (arg === "--samples") samples = Number(rest[++i]);
        else if (arg === "--min-sample-ms") minSampleMs = Number(rest[++i]);
        else names.push(arg);
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
    const entries = new Map(manifest.map((entry) => [entry.case, entry]));
    for (const name of names.length ? names : [...entries.keys()]) {
        const entry = entries.get(name);
        if (!entry) throw new Error(`unknown case '${name}'`);
        const bytes = new Uint8Array(fs.readFileSync(path.join(dir, entry.file)));
        const answer = answerOf(entry.kind, await run(entry.kind, bytes));
        if (answer !== entry.expected_answer) {
            throw new Error(`${name} answered '${answer}', expected '${entry.expected_answer}'`);
        }
        const { medianMs, iterations } = await timeCase(entry.kind, bytes, samples, minSampleMs);
        console.log(`${name}\t${(medianMs * 1000).toFixed(3)}\t${iterations}\t${samples}\t${answer}`);
    }
}

main(process.argv.slice(2)).catch((error) => {
    console.error(`bench_js_executors: ${error.stack || error}`);
    process.exit(1);
});
