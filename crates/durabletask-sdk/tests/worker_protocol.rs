//! The worker's side of the work item protocol, against a scripted fake engine (an HTTP/2 server speaking just
//! enough gRPC): what `GetWorkItems` asks for, that every completion carries its work item's token, the V1
//! `entityRequest` shape and orchestrations whose history must be fetched with `StreamInstanceHistory` — things
//! the local in-memory engine never exercises.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use durabletask_sdk::proto::{self, orchestrator_action::OrchestratorActionType as Action, work_item};
use durabletask_sdk::testing::history;
use durabletask_sdk::worker::{WorkItemFilter, Worker, WorkerError, WorkerOptions, MIN_COMPLETION_CHUNK_SIZE};
use durabletask_sdk::{ActivityContext, EntityContext, Error, OrchestrationContext, Registry};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::UnboundedReceiverStream;

mod fake_grpc;

use fake_grpc::{decode, grpc_frame, ok_trailers};

const WAIT: Duration = Duration::from_secs(30);

type Body = StreamBody<UnboundedReceiverStream<Result<Frame<Bytes>, Infallible>>>;

/// What the worker sent to the fake engine.
#[derive(Debug)]
enum Sent {
    WorkItemsRequest(proto::GetWorkItemsRequest),
    Orchestrator(proto::OrchestratorResponse),
    Activity(proto::ActivityResponse),
    Entity(proto::EntityBatchResult),
    HistoryRequest(proto::StreamInstanceHistoryRequest),
}

/// A fake engine on loopback: hands out the work items it is given on the first `GetWorkItems` stream, answers
/// `StreamInstanceHistory` with a fixed history, accepts every completion and reports everything it received.
struct FakeEngine {
    port: u16,
    work_items: mpsc::UnboundedSender<proto::WorkItem>,
    sent: mpsc::UnboundedReceiver<Sent>,
}

impl FakeEngine {
    async fn start(history: Vec<proto::HistoryEvent>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (work_items, pending) = mpsc::unbounded_channel();
        let pending = Arc::new(Mutex::new(Some(pending)));
        let (report, sent) = mpsc::unbounded_channel();
        let history = Arc::new(history);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (pending, report, history) = (pending.clone(), report.clone(), history.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        serve(request, pending.clone(), report.clone(), history.clone())
                    });
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { port, work_items, sent }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn send(&self, request: work_item::Request, completion_token: &str) {
        let item = proto::WorkItem {
            request: Some(request),
            completion_token: completion_token.to_string(),
        };
        self.work_items.send(item).expect("the fake engine runs");
    }

    async fn next_sent(&mut self) -> Sent {
        tokio::time::timeout(WAIT, self.sent.recv())
            .await
            .expect("the worker sends something in time")
            .expect("the fake engine runs")
    }
}

async fn serve(
    request: Request<Incoming>,
    pending: Arc<Mutex<Option<mpsc::UnboundedReceiver<proto::WorkItem>>>>,
    report: mpsc::UnboundedSender<Sent>,
    history: Arc<Vec<proto::HistoryEvent>>,
) -> Result<Response<Body>, Infallible> {
    let method = request.uri().path().rsplit('/').next().unwrap_or_default().to_string();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let message = body.get(5..).unwrap_or_default();
    let (frames, body) = mpsc::unbounded_channel();
    match method.as_str() {
        "GetWorkItems" => {
            let _ = report.send(Sent::WorkItemsRequest(decode(message)));
            // The first stream gets the work items and stays open; later ones stay open and empty.
            let work_items = pending.lock().unwrap().take();
            tokio::spawn(async move {
                let Some(mut work_items) = work_items else {
                    return std::future::pending::<()>().await;
                };
                while let Some(item) = work_items.recv().await {
                    if frames.send(Ok(grpc_frame(&item))).is_err() {
                        return;
                    }
                }
            });
        }
        "StreamInstanceHistory" => {
            let _ = report.send(Sent::HistoryRequest(decode(message)));
            let _ = frames.send(Ok(grpc_frame(&proto::HistoryChunk {
                events: history.to_vec(),
            })));
            let _ = frames.send(Ok(ok_trailers()));
        }
        completion => {
            let _ = report.send(match completion {
                "CompleteOrchestratorTask" => Sent::Orchestrator(decode(message)),
                "CompleteActivityTask" => Sent::Activity(decode(message)),
                "CompleteEntityTask" => Sent::Entity(decode(message)),
                other => panic!("the worker called {other}, which the fake engine does not serve"),
            });
            let _ = frames.send(Ok(grpc_frame(&proto::CompleteTaskResponse {})));
            let _ = frames.send(Ok(ok_trailers()));
        }
    }
    Ok(Response::builder()
        .header("content-type", "application/grpc")
        .body(StreamBody::new(UnboundedReceiverStream::new(body)))
        .unwrap())
}

async fn echo(_ctx: ActivityContext, value: String) -> Result<String, Error> {
    Ok(value)
}

async fn echo_twice(ctx: OrchestrationContext, value: String) -> Result<String, Error> {
    let once: String = ctx.call_activity("echo", &value).await?;
    let twice: String = ctx.call_activity("echo", &format!("{once}{once}")).await?;
    Ok(twice)
}

/// Schedules `count` echo activities of `size` bytes each at once: one large completion.
async fn fan_out(ctx: OrchestrationContext, (count, size): (usize, usize)) -> Result<(), Error> {
    let calls = (0..count)
        .map(|_| ctx.call_activity::<String>("echo", &"x".repeat(size)))
        .collect();
    durabletask_sdk::orchestration::when_all(calls).await?;
    Ok(())
}

fn counter(ctx: &mut EntityContext) -> Result<i64, Error> {
    let sum = ctx.get_state::<i64>()?.unwrap_or(0) + ctx.input::<i64>()?;
    ctx.set_state(&sum)?;
    Ok(sum)
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .add_activity("echo", echo)
        .and_then(|r| r.add_orchestrator("echo_twice", echo_twice))
        .and_then(|r| r.add_orchestrator("fan_out", fan_out))
        .and_then(|r| r.add_entity("counter", counter))
        .expect("valid registrations");
    registry
}

/// Runs a worker for `engine` until the returned sender is used or dropped.
fn spawn_worker(engine: &FakeEngine, options: WorkerOptions) -> oneshot::Sender<()> {
    let (stop, stopped) = oneshot::channel::<()>();
    let url = engine.url();
    tokio::spawn(async move {
        Worker::new(registry(), options)
            .run(&url, async {
                let _ = stopped.await;
            })
            .await
    });
    stop
}

fn completion_of(response: &proto::OrchestratorResponse) -> Option<&proto::CompleteOrchestrationAction> {
    response
        .actions
        .iter()
        .find_map(|action| match &action.orchestrator_action_type {
            Some(Action::CompleteOrchestration(complete)) => Some(complete),
            _ => None,
        })
}

#[tokio::test]
async fn the_work_item_request_announces_the_concurrency_limits() {
    let mut engine = FakeEngine::start(Vec::new()).await;
    let options = WorkerOptions::default()
        .with_max_concurrent_orchestrations(3)
        .with_max_concurrent_activities(7)
        .with_max_concurrent_entities(2)
        .with_worker_instance_id("worker-a");
    let _stop = spawn_worker(&engine, options);

    let Sent::WorkItemsRequest(request) = engine.next_sent().await else {
        panic!("GetWorkItems comes first")
    };
    assert_eq!(request.max_concurrent_orchestration_work_items, 3);
    assert_eq!(request.max_concurrent_activity_work_items, 7);
    assert_eq!(request.max_concurrent_entity_work_items, 2);
    assert_eq!(request.worker_instance_id, "worker-a");
    assert_eq!(
        request.capabilities,
        [proto::WorkerCapability::HistoryStreaming as i32],
        "the worker fetches histories that do not come with the work item"
    );
    assert_eq!(
        request.work_item_filters, None,
        "everything, unless a filter is configured"
    );
}

#[tokio::test]
async fn a_registered_filter_asks_only_for_what_the_worker_runs() {
    let mut engine = FakeEngine::start(Vec::new()).await;
    let _stop = spawn_worker(
        &engine,
        WorkerOptions::default().with_work_item_filter(WorkItemFilter::Registered),
    );
    let Sent::WorkItemsRequest(request) = engine.next_sent().await else {
        panic!("GetWorkItems comes first")
    };
    let filters = request.work_item_filters.expect("filters are sent");
    let names = |names: Vec<&str>| names.into_iter().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        filters
            .orchestrations
            .iter()
            .map(|f| f.name.clone())
            .collect::<Vec<_>>(),
        names(vec!["echo_twice", "fan_out"])
    );
    assert_eq!(
        filters.activities.iter().map(|f| f.name.clone()).collect::<Vec<_>>(),
        names(vec!["echo"])
    );
    assert_eq!(
        filters.entities.iter().map(|f| f.name.clone()).collect::<Vec<_>>(),
        names(vec!["counter"])
    );
}

#[tokio::test]
async fn a_filter_naming_an_unregistered_function_is_refused_before_connecting() {
    let engine = FakeEngine::start(Vec::new()).await;
    let filter = WorkItemFilter::Only(proto::WorkItemFilters {
        orchestrations: vec![proto::OrchestrationFilter {
            name: "checkout".into(),
            versions: Vec::new(),
        }],
        ..Default::default()
    });
    let worker = Worker::new(registry(), WorkerOptions::default().with_work_item_filter(filter));
    let error = tokio::time::timeout(WAIT, worker.run(&engine.url(), std::future::pending()))
        .await
        .expect("the worker returns at once")
        .unwrap_err();
    assert!(matches!(error, WorkerError::InvalidWorkItemFilter(_)), "{error:?}");
    assert!(error.to_string().contains("orchestrator 'checkout'"), "{error}");
}

#[tokio::test]
#[allow(deprecated)] // isPartial and chunkIndex are deprecated in the proto, and still how chunks are marked.
async fn a_large_completion_is_sent_in_chunks_with_one_token() {
    let mut engine = FakeEngine::start(Vec::new()).await;
    let options = WorkerOptions::default().with_completion_chunk_size(Some(MIN_COMPLETION_CHUNK_SIZE));
    let _stop = spawn_worker(&engine, options);
    assert!(matches!(engine.next_sent().await, Sent::WorkItemsRequest(_)));

    // Ten 300 KB activity inputs: about 3 MB of actions, three to a 1 MiB chunk.
    let orchestration = proto::OrchestratorRequest {
        instance_id: "big".into(),
        new_events: vec![
            history::orchestrator_started_now(),
            history::execution_started("fan_out", "big", Some("[10, 307200]")),
        ],
        ..Default::default()
    };
    engine.send(work_item::Request::OrchestratorRequest(orchestration), "big-token");
    let mut chunks = Vec::new();
    loop {
        let Sent::Orchestrator(chunk) = engine.next_sent().await else {
            panic!("orchestration completions")
        };
        let last = !chunk.is_partial;
        chunks.push(chunk);
        if last {
            break;
        }
    }
    assert_eq!(chunks.len(), 4);
    assert_eq!(
        chunks.iter().map(|c| c.chunk_index).collect::<Vec<_>>(),
        [Some(0), Some(1), Some(2), Some(3)]
    );
    let ids: Vec<i32> = chunks.iter().flat_map(|c| c.actions.iter().map(|a| a.id)).collect();
    assert_eq!(
        ids,
        (1..=10).collect::<Vec<_>>(),
        "every scheduled activity once, in order"
    );
    assert!(chunks
        .iter()
        .all(|c| c.completion_token == "big-token" && c.instance_id == "big"));

    // Sent whole when chunking is off.
    let mut engine = FakeEngine::start(Vec::new()).await;
    let _stop = spawn_worker(&engine, WorkerOptions::default().with_completion_chunk_size(None));
    assert!(matches!(engine.next_sent().await, Sent::WorkItemsRequest(_)));
    let orchestration = proto::OrchestratorRequest {
        instance_id: "big".into(),
        new_events: vec![
            history::orchestrator_started_now(),
            history::execution_started("fan_out", "big", Some("[10, 307200]")),
        ],
        ..Default::default()
    };
    engine.send(work_item::Request::OrchestratorRequest(orchestration), "big-token");
    let Sent::Orchestrator(whole) = engine.next_sent().await else {
        panic!("an orchestration completion")
    };
    assert!(!whole.is_partial && whole.chunk_index.is_none());
    assert_eq!(whole.actions.len(), 10);
}

#[tokio::test]
async fn every_completion_carries_its_work_items_token() {
    let mut engine = FakeEngine::start(Vec::new()).await;
    let _stop = spawn_worker(&engine, WorkerOptions::default());
    assert!(matches!(engine.next_sent().await, Sent::WorkItemsRequest(_)));

    let activity = proto::ActivityRequest {
        name: "echo".into(),
        input: Some("\"hi\"".into()),
        task_id: 4,
        orchestration_instance: Some(proto::OrchestrationInstance {
            instance_id: "i-1".into(),
            execution_id: None,
        }),
        ..Default::default()
    };
    engine.send(work_item::Request::ActivityRequest(activity), "activity-token");
    let Sent::Activity(response) = engine.next_sent().await else {
        panic!("an activity completion")
    };
    assert_eq!(response.completion_token, "activity-token");
    assert_eq!((response.instance_id.as_str(), response.task_id), ("i-1", 4));
    assert_eq!(response.result.as_deref(), Some("\"hi\""));

    let orchestration = proto::OrchestratorRequest {
        instance_id: "i-2".into(),
        new_events: vec![
            history::orchestrator_started_now(),
            history::execution_started("echo_twice", "i-2", Some("\"a\"")),
        ],
        ..Default::default()
    };
    engine.send(
        work_item::Request::OrchestratorRequest(orchestration),
        "orchestration-token",
    );
    let Sent::Orchestrator(response) = engine.next_sent().await else {
        panic!("an orchestration completion")
    };
    assert_eq!(response.completion_token, "orchestration-token");
    assert!(matches!(
        response.actions[0].orchestrator_action_type,
        Some(Action::ScheduleTask(_))
    ));
}

#[tokio::test]
async fn a_v1_entity_batch_is_run_and_completed() {
    let mut engine = FakeEngine::start(Vec::new()).await;
    let _stop = spawn_worker(&engine, WorkerOptions::default());
    assert!(matches!(engine.next_sent().await, Sent::WorkItemsRequest(_)));

    let operation = |input: &str| proto::OperationRequest {
        operation: "add".into(),
        request_id: format!("request-{input}"),
        input: Some(input.into()),
        trace_context: None,
    };
    let batch = proto::EntityBatchRequest {
        instance_id: "@counter@k".into(),
        entity_state: Some("1".into()),
        operations: vec![operation("2"), operation("3")],
        ..Default::default()
    };
    engine.send(work_item::Request::EntityRequest(batch), "entity-token");

    let Sent::Entity(result) = engine.next_sent().await else {
        panic!("an entity completion")
    };
    assert_eq!(result.completion_token, "entity-token");
    assert_eq!(result.results.len(), 2);
    assert_eq!(result.entity_state.as_deref(), Some("6"));
}

#[tokio::test]
async fn an_orchestration_sent_without_its_history_fetches_it_first() {
    let past = vec![
        history::orchestrator_started_now(),
        history::execution_started("echo_twice", "i-3", Some("\"ab\"")),
        history::task_scheduled(1, "echo", Some("\"ab\"")),
        history::orchestrator_completed(),
    ];
    let mut engine = FakeEngine::start(past).await;
    let _stop = spawn_worker(&engine, WorkerOptions::default());
    assert!(matches!(engine.next_sent().await, Sent::WorkItemsRequest(_)));

    let request = proto::OrchestratorRequest {
        instance_id: "i-3".into(),
        execution_id: Some("execution-1".into()),
        new_events: vec![
            history::orchestrator_started_now(),
            history::task_completed(1, Some("\"ab\"")),
        ],
        requires_history_streaming: true,
        ..Default::default()
    };
    engine.send(work_item::Request::OrchestratorRequest(request), "streamed-token");

    let Sent::HistoryRequest(asked) = engine.next_sent().await else {
        panic!("the history is fetched first")
    };
    assert_eq!(asked.instance_id, "i-3");
    assert_eq!(asked.execution_id.as_deref(), Some("execution-1"));
    let Sent::Orchestrator(response) = engine.next_sent().await else {
        panic!("an orchestration completion")
    };
    assert_eq!(response.completion_token, "streamed-token");
    let Some(Action::ScheduleTask(second)) = &response.actions[0].orchestrator_action_type else {
        panic!("the replay reached the second activity: {response:?}")
    };
    assert_eq!(second.input.as_deref(), Some("\"abab\""));
    assert!(completion_of(&response).is_none());
}
