//! `handler replay-check` and `handler export-histories`: the SDK's [replay check](durabletask_sdk::replay_check)
//! with this app's orchestrators, settings and versioning, from the command line.
//!
//! ```text
//! handler replay-check [--engine URL] [--prefix P] [--app-root DIR] [--all] [PATH ...]
//! handler export-histories --engine URL [--prefix P] --out FILE
//! ```
//!
//! `replay-check` replays every history of the history files given (a directory stands for its `*.jsonl` files)
//! and, with `--engine`, of every instance of a running engine that serves `StreamInstanceHistory` (the local
//! engine, the Durable Task Scheduler). It prints one line per broken or skipped instance (`--all`: per instance)
//! and a summary. Exit status: 0 when no instance breaks, 1 when one does, 2 when the check cannot run (bad
//! arguments, an unreadable or malformed file, an unreachable engine).
//!
//! The orchestrator's decisions depend on app settings (`PUBLISH_MAX_ATTEMPTS`, `PUBLISH_FIRST_RETRY_INTERVAL`)
//! and on the versioning in host.json (`--app-root`, default `FUNCTIONS_APP_ROOT_PATH` or the current folder):
//! run the check with the values the deployment will have.
//!
//! `export-histories` writes the histories of a running engine to a history file (the format
//! `replay-check` reads; `scripts/record-histories.sh` records `tests/histories/` with it).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser};
use durabletask_sdk::client::{ClientOptions, DurableClient, InstanceQuery};
use durabletask_sdk::replay_check::history_json::{history_file, read_history_file};
use durabletask_sdk::replay_check::{check_histories, engine, InstanceHistory};
use durabletask_sdk::Registry;

use crate::config::Config;
use crate::durable::{self, DurableSettings};

/// Exit status when the check cannot run.
const CANNOT_RUN: u8 = 2;

/// `handler replay-check`.
#[derive(Debug, Parser)]
#[command(
    name = "handler replay-check",
    about = "Replay recorded orchestration histories through this build's orchestrators",
    after_help = "Exit status: 0 no instance breaks, 1 an instance breaks, 2 the check cannot run."
)]
struct ReplayCheckArgs {
    /// History files (JSON lines: {"instanceId", "history": [HistoryEvent JSON]}) or folders of *.jsonl files.
    paths: Vec<PathBuf>,
    #[command(flatten)]
    engine: EngineArgs,
    /// The app root holding host.json (its orchestration versioning applies).
    #[arg(long)]
    app_root: Option<PathBuf>,
    /// Print every instance, not only the broken and skipped ones.
    #[arg(long)]
    all: bool,
}

/// `handler export-histories`.
#[derive(Debug, Parser)]
#[command(
    name = "handler export-histories",
    about = "Write the histories of a running engine's instances to a history file"
)]
struct ExportArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// The history file to write.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct EngineArgs {
    /// A running engine serving StreamInstanceHistory (e.g. http://127.0.0.1:4001).
    #[arg(long)]
    engine: Option<String>,
    /// Only the engine's instances whose id starts with this.
    #[arg(long)]
    prefix: Option<String>,
}

/// Runs `handler replay-check ARGS` (`args` without the program and command names).
pub async fn replay_check(args: Vec<String>) -> ExitCode {
    let args = match parse::<ReplayCheckArgs>("replay-check", args) {
        Ok(args) => args,
        Err(code) => return code,
    };
    match run_check(&args).await {
        Ok(passed) => ExitCode::from(u8::from(!passed)),
        Err(message) => cannot_run(&message),
    }
}

/// Runs `handler export-histories ARGS`.
pub async fn export_histories(args: Vec<String>) -> ExitCode {
    let args = match parse::<ExportArgs>("export-histories", args) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let Some(url) = &args.engine.engine else {
        return cannot_run("export-histories needs --engine URL");
    };
    let histories = match engine_histories(url, args.engine.prefix.as_deref()).await {
        Ok(histories) => histories,
        Err(message) => return cannot_run(&message),
    };
    if let Err(error) = std::fs::write(&args.out, history_file(&histories)) {
        return cannot_run(&format!("cannot write {}: {error}", args.out.display()));
    }
    eprintln!("wrote {} histories to {}", histories.len(), args.out.display());
    ExitCode::SUCCESS
}

fn parse<T: Parser>(command: &str, args: Vec<String>) -> Result<T, ExitCode> {
    T::try_parse_from(std::iter::once(format!("handler {command}")).chain(args)).map_err(|error| {
        let _ = error.print();
        if error.use_stderr() {
            ExitCode::from(CANNOT_RUN)
        } else {
            ExitCode::SUCCESS
        }
    })
}

fn cannot_run(message: &str) -> ExitCode {
    eprintln!("replay check: {message}");
    ExitCode::from(CANNOT_RUN)
}

/// The check; `Ok(true)` when no instance breaks.
async fn run_check(args: &ReplayCheckArgs) -> Result<bool, String> {
    if args.paths.is_empty() && args.engine.engine.is_none() {
        return Err("nothing to check: give history files or folders, or --engine URL".to_string());
    }
    let registry = app_registry(args.app_root.as_deref())?;
    let mut histories = Vec::new();
    for file in history_files(&args.paths)? {
        let text =
            std::fs::read_to_string(&file).map_err(|error| format!("cannot read {}: {error}", file.display()))?;
        let read = read_history_file(&text).map_err(|error| format!("{}: {error}", file.display()))?;
        histories.extend(read);
    }
    if let Some(url) = &args.engine.engine {
        histories.extend(engine_histories(url, args.engine.prefix.as_deref()).await?);
    }
    let report = check_histories(&registry, &histories);
    for instance in &report.instances {
        if args.all || !matches!(instance.verdict, durabletask_sdk::replay_check::Verdict::Ok) {
            println!("{instance}");
        }
    }
    println!("{}", report.summary());
    Ok(report.passed())
}

/// The files `paths` name: files as they are, folders by their `*.jsonl` files (sorted).
fn history_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        if !metadata.is_dir() {
            files.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|file| file.extension().is_some_and(|ext| ext == "jsonl"))
            .collect();
        if found.is_empty() {
            return Err(format!("{} holds no history file (*.jsonl)", path.display()));
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// Every history of the engine at `url` (ids starting with `prefix`).
async fn engine_histories(url: &str, prefix: Option<&str>) -> Result<Vec<InstanceHistory>, String> {
    let options = ClientOptions::default().with_call_timeout(Duration::from_secs(30));
    let client = DurableClient::connect_lazy(url, options).map_err(|error| error.to_string())?;
    let query = InstanceQuery {
        instance_id_prefix: prefix.map(str::to_string),
        ..InstanceQuery::default()
    };
    engine::task_hub_histories(&client, &query)
        .await
        .map_err(|error| format!("cannot read the histories of the engine at {url}: {error}"))
}

/// The app's registry, with the settings of this environment and the versioning of the app root's host.json.
fn app_registry(app_root: Option<&Path>) -> Result<Registry, String> {
    let app_root = app_root.map(Path::to_path_buf);
    // The check never listens, so the port the Functions host would give the handler is not needed.
    let config = Config::from_lookup(|name| match name {
        "FUNCTIONS_CUSTOMHANDLER_PORT" => Some("7071".to_string()),
        "FUNCTIONS_APP_ROOT_PATH" => app_root
            .as_ref()
            .map(|root| root.display().to_string())
            .or_else(|| std::env::var(name).ok()),
        other => std::env::var(other).ok(),
    })
    .map_err(|error| format!("app settings: {error}"))?;
    let versioning = durable::app_versioning(&config.app_root).map_err(|error| error.to_string())?;
    let settings = DurableSettings::from_config(&config).with_versioning(versioning);
    Ok(durable::registry_with(Arc::new(settings)))
}

#[cfg(test)]
mod tests {
    //! The recorded corpus against changed notification orchestrators: an extra activity before publishing breaks
    //! every recorded instance; the same change guarded by the instance's version does not.

    use durabletask_sdk::replay_check::Verdict;
    use durabletask_sdk::{Error, OrchestrationContext};

    use super::*;
    use crate::durable::{notify, PublicationInput, ORCHESTRATOR};

    fn corpus() -> Vec<InstanceHistory> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/histories/corpus.jsonl");
        read_history_file(&std::fs::read_to_string(path).expect("the recorded corpus")).expect("a valid corpus")
    }

    /// A registry of the app's orchestrator name served by `orchestrator` (the check runs no activity or entity,
    /// so the orchestrator is all it needs).
    fn registry_with_orchestrator<F, Fut>(orchestrator: F) -> Registry
    where
        F: Fn(OrchestrationContext, PublicationInput, Arc<DurableSettings>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<serde_json::Value, Error>> + 'static,
    {
        let config = Config::from_lookup(|name| (name == "FUNCTIONS_CUSTOMHANDLER_PORT").then(|| "7071".to_string()))
            .expect("default settings");
        let settings = Arc::new(DurableSettings::from_config(&config));
        let mut registry = Registry::new();
        registry
            .add_orchestrator(ORCHESTRATOR, move |ctx, input| {
                orchestrator(ctx, input, settings.clone())
            })
            .unwrap();
        registry
    }

    async fn audit_first(
        ctx: OrchestrationContext,
        publication: PublicationInput,
        settings: Arc<DurableSettings>,
    ) -> Result<serde_json::Value, Error> {
        ctx.call_activity::<()>("AuditNotification", &ctx.instance_id()).await?;
        notify::orchestrate(ctx, publication, settings).await
    }

    async fn audit_first_guarded(
        ctx: OrchestrationContext,
        publication: PublicationInput,
        settings: Arc<DurableSettings>,
    ) -> Result<serde_json::Value, Error> {
        if ctx.compare_version("99.0").is_ge() {
            ctx.call_activity::<()>("AuditNotification", &ctx.instance_id()).await?;
        }
        notify::orchestrate(ctx, publication, settings).await
    }

    #[test]
    fn the_current_orchestrator_replays_the_corpus() {
        let registry = app_registry(Some(Path::new(env!("CARGO_MANIFEST_DIR")))).unwrap();
        let corpus = corpus();
        assert!(!corpus.is_empty());
        let report = check_histories(&registry, &corpus);
        assert!(report.passed(), "{report:?}");
    }

    #[test]
    fn an_extra_activity_before_publishing_breaks_every_recorded_instance() {
        let report = check_histories(&registry_with_orchestrator(audit_first), &corpus());
        assert_eq!(report.breaks().count(), report.instances.len(), "{}", report.summary());
        for instance in &report.instances {
            let Verdict::Nondeterministic(step) = &instance.verdict else {
                panic!("{instance}")
            };
            assert_eq!(step.task_id, 1, "{instance}");
            let line = instance.to_string();
            assert!(
                line.starts_with(&format!("BREAK {} (Orchestrator, version ", instance.instance_id)),
                "{line}"
            );
            assert!(
                line.contains("the code now schedules activity 'AuditNotification'"),
                "{line}"
            );
        }
    }

    #[test]
    fn the_same_change_guarded_by_the_version_replays_the_corpus() {
        let report = check_histories(&registry_with_orchestrator(audit_first_guarded), &corpus());
        assert!(report.passed(), "{report:?}");
    }
}
