//! The client and the worker against a loopback stand-in for the Durable Task Scheduler: TLS with a certificate of a
//! private CA (made here with rcgen), and a server that, like the scheduler, refuses every call without a valid
//! bearer token and the `taskhub` header, and records what it saw.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use durabletask_sdk::client::{
    AccessToken, BearerToken, ClientError, ClientOptions, CredentialError, DurableClient, TlsOptions, TokenCredential,
    DURABLE_TASK_SCHEDULER_SCOPE, USER_AGENT,
};
use durabletask_sdk::proto::task_hub_sidecar_service_server::{TaskHubSidecarService, TaskHubSidecarServiceServer};
use durabletask_sdk::proto::{self, orchestrator_action::OrchestratorActionType as Action, work_item};
use durabletask_sdk::testing::history;
use durabletask_sdk::worker::{Worker, WorkerOptions};
use durabletask_sdk::{Error, OrchestrationContext, Registry};
use futures::future::BoxFuture;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

/// The name on the scheduler's certificate (no DNS involved: the client connects to 127.0.0.1).
const SCHEDULER_NAME: &str = "scheduler.test";
const TASK_HUB: &str = "orders";
const WAIT: Duration = Duration::from_secs(30);

/// A private CA and a server certificate it signed for [`SCHEDULER_NAME`].
struct Certificates {
    ca_pem: String,
    server: Identity,
}

fn certificates() -> Certificates {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "durabletask-sdk test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec![SCHEDULER_NAME.to_string()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    Certificates {
        ca_pem: ca.pem(),
        server: Identity::from_pem(server_cert.pem(), server_key.serialize_pem()),
    }
}

/// One call as the scheduler saw it.
#[derive(Debug, Clone)]
struct Seen {
    rpc: &'static str,
    authorization: Option<String>,
    task_hub: Option<String>,
    worker_id: Option<String>,
    user_agent: Option<String>,
}

/// The stand-in scheduler: accepts tokens `token-1`, `token-2`, … and the task hub [`TASK_HUB`].
#[derive(Clone, Default)]
struct FakeScheduler {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Work items handed to the next `GetWorkItems` stream.
    work_items: Arc<Mutex<VecDeque<proto::WorkItem>>>,
    completions: Arc<Mutex<Option<mpsc::UnboundedSender<proto::OrchestratorResponse>>>>,
}

impl FakeScheduler {
    /// Records the call and refuses it as the scheduler would when a header is missing or wrong.
    fn check<T>(&self, rpc: &'static str, request: &Request<T>) -> Result<(), Status> {
        let header = |name: &str| {
            request
                .metadata()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        let seen = Seen {
            rpc,
            authorization: header("authorization"),
            task_hub: header("taskhub"),
            worker_id: header("workerid"),
            user_agent: header("x-user-agent"),
        };
        self.seen.lock().unwrap().push(seen.clone());
        match seen
            .authorization
            .as_deref()
            .and_then(|value| value.strip_prefix("Bearer token-"))
        {
            Some(n) if n.parse::<u32>().is_ok() => {}
            _ => return Err(Status::unauthenticated("a valid bearer token is required")),
        }
        match seen.task_hub.as_deref() {
            Some(TASK_HUB) => Ok(()),
            Some(other) => Err(Status::not_found(format!("task hub '{other}' not found"))),
            None => Err(Status::invalid_argument("the taskhub header is required")),
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

#[tonic::async_trait]
impl TaskHubSidecarService for FakeScheduler {
    async fn hello(&self, request: Request<()>) -> Result<Response<()>, Status> {
        self.check("Hello", &request)?;
        Ok(Response::new(()))
    }

    async fn start_instance(
        &self,
        request: Request<proto::CreateInstanceRequest>,
    ) -> Result<Response<proto::CreateInstanceResponse>, Status> {
        self.check("StartInstance", &request)?;
        Ok(Response::new(proto::CreateInstanceResponse {
            instance_id: request.into_inner().instance_id,
        }))
    }

    async fn get_work_items(
        &self,
        request: Request<proto::GetWorkItemsRequest>,
    ) -> Result<Response<tonic::codegen::BoxStream<proto::WorkItem>>, Status> {
        self.check("GetWorkItems", &request)?;
        let (sender, receiver) = mpsc::channel(16);
        let items: Vec<_> = self.work_items.lock().unwrap().drain(..).collect();
        for item in items {
            sender.send(Ok(item)).await.unwrap();
        }
        // The stream stays open (the sender lives in the task) until the worker goes away.
        tokio::spawn(async move { sender.closed().await });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn complete_orchestrator_task(
        &self,
        request: Request<proto::OrchestratorResponse>,
    ) -> Result<Response<proto::CompleteTaskResponse>, Status> {
        self.check("CompleteOrchestratorTask", &request)?;
        if let Some(completions) = self.completions.lock().unwrap().as_ref() {
            let _ = completions.send(request.into_inner());
        }
        Ok(Response::new(proto::CompleteTaskResponse {}))
    }
}

/// Serves `scheduler` over TLS on a loopback port until the test ends; returns the port.
async fn serve(scheduler: FakeScheduler, identity: Identity) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = Server::builder()
        .tls_config(ServerTlsConfig::new().identity(identity))
        .unwrap()
        .add_service(TaskHubSidecarServiceServer::new(scheduler))
        .serve_with_incoming(TcpListenerStream::new(listener));
    tokio::spawn(server);
    port
}

/// Hands out `token-1`, `token-2`, … each valid for `lifetime`, and counts the requests.
#[derive(Debug)]
struct FakeCredential {
    issued: Mutex<u32>,
    lifetime: chrono::Duration,
}

impl FakeCredential {
    fn new(lifetime: chrono::Duration) -> Arc<Self> {
        Arc::new(Self {
            issued: Mutex::new(0),
            lifetime,
        })
    }

    fn issued(&self) -> u32 {
        *self.issued.lock().unwrap()
    }
}

impl TokenCredential for FakeCredential {
    fn get_token<'a>(&'a self, scopes: &'a [&'a str]) -> BoxFuture<'a, Result<AccessToken, CredentialError>> {
        Box::pin(async move {
            assert_eq!(
                scopes,
                [DURABLE_TASK_SCHEDULER_SCOPE],
                "the scheduler's scope is asked for"
            );
            let mut issued = self.issued.lock().unwrap();
            *issued += 1;
            Ok(AccessToken::new(format!("token-{issued}"), Utc::now() + self.lifetime))
        })
    }
}

/// Options trusting the test CA, with tokens of `credential` refreshed 5 minutes before they expire.
fn options(certificates: &Certificates, credential: Arc<FakeCredential>) -> ClientOptions {
    let tls = TlsOptions::default()
        .with_ca_certificate_pem(certificates.ca_pem.clone())
        .with_domain_name(SCHEDULER_NAME);
    ClientOptions::default()
        .with_tls(tls)
        .with_call_timeout(WAIT)
        .with_credential(credential, DURABLE_TASK_SCHEDULER_SCOPE)
}

fn connection_string(port: u16) -> String {
    format!("Endpoint=https://127.0.0.1:{port};Authentication=ManagedIdentity;TaskHub={TASK_HUB}")
}

#[tokio::test]
async fn the_client_reaches_the_scheduler_over_tls_with_a_token_and_the_task_hub() {
    let certificates = certificates();
    let scheduler = FakeScheduler::default();
    let port = serve(scheduler.clone(), certificates.server.clone()).await;
    let credential = FakeCredential::new(chrono::Duration::hours(1));

    // ManagedIdentity would need the `azure-identity` feature; the credential given in the options is used instead.
    let client =
        DurableClient::from_connection_string(&connection_string(port), options(&certificates, credential.clone()))
            .unwrap();
    client.hello().await.unwrap();
    let id = client
        .start_orchestration("Greet", Some("order-1"), &"Tokyo")
        .await
        .unwrap();
    assert_eq!(id, "order-1");

    let seen = scheduler.seen();
    assert_eq!(
        seen.iter().map(|s| s.rpc).collect::<Vec<_>>(),
        ["Hello", "StartInstance"]
    );
    for call in &seen {
        assert_eq!(call.authorization.as_deref(), Some("Bearer token-1"), "{call:?}");
        assert_eq!(call.task_hub.as_deref(), Some(TASK_HUB), "{call:?}");
        assert_eq!(call.user_agent.as_deref(), Some(USER_AGENT), "{call:?}");
    }
    assert_eq!(credential.issued(), 1, "one token serves both calls");
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire() {
    let certificates = certificates();
    let scheduler = FakeScheduler::default();
    let port = serve(scheduler.clone(), certificates.server.clone()).await;
    // Each token lives 2 minutes, inside the 5-minute refresh margin: every call needs a new one.
    let credential = FakeCredential::new(chrono::Duration::minutes(2));
    let client =
        DurableClient::from_connection_string(&connection_string(port), options(&certificates, credential.clone()))
            .unwrap();
    for _ in 0..3 {
        client.hello().await.unwrap();
    }
    let tokens: Vec<_> = scheduler.seen().into_iter().map(|s| s.authorization.unwrap()).collect();
    assert_eq!(tokens, ["Bearer token-1", "Bearer token-2", "Bearer token-3"]);

    // With a margin of one minute the same 2-minute tokens are reused.
    let credential = FakeCredential::new(chrono::Duration::minutes(2));
    let bearer = BearerToken::with_refresh_margin(
        credential.clone(),
        DURABLE_TASK_SCHEDULER_SCOPE,
        Duration::from_secs(60),
    );
    let options = options(&certificates, credential.clone()).with_bearer_token(bearer);
    let client = DurableClient::from_connection_string(&connection_string(port), options).unwrap();
    for _ in 0..3 {
        client.hello().await.unwrap();
    }
    assert_eq!(credential.issued(), 1);
}

#[tokio::test]
async fn the_scheduler_refuses_what_the_client_gets_wrong() {
    let certificates = certificates();
    let scheduler = FakeScheduler::default();
    let port = serve(scheduler.clone(), certificates.server.clone()).await;
    let credential = FakeCredential::new(chrono::Duration::hours(1));

    // Another task hub: the scheduler answers NOT_FOUND, which is not worth retrying.
    let wrong_hub = format!("Endpoint=https://127.0.0.1:{port};Authentication=None;TaskHub=returns");
    let client = DurableClient::from_connection_string(&wrong_hub, options(&certificates, credential.clone())).unwrap();
    let error = client.hello().await.unwrap_err();
    assert!(matches!(error, ClientError::NotFound { .. }), "{error:?}");

    // No credential: UNAUTHENTICATED.
    let no_token = ClientOptions::default().with_tls(
        TlsOptions::default()
            .with_ca_certificate_pem(certificates.ca_pem.clone())
            .with_domain_name(SCHEDULER_NAME),
    );
    let none = format!("Endpoint=https://127.0.0.1:{port};Authentication=None;TaskHub={TASK_HUB}");
    let error = DurableClient::from_connection_string(&none, no_token)
        .unwrap()
        .hello()
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Rpc {
                code: tonic::Code::Unauthenticated,
                ..
            }
        ),
        "{error:?}"
    );

    // A server whose certificate the client does not trust is never sent a token.
    let before = scheduler.seen().len();
    let untrusted = ClientOptions::default()
        .with_tls(TlsOptions::default().with_domain_name(SCHEDULER_NAME))
        .with_credential(credential, DURABLE_TASK_SCHEDULER_SCOPE);
    let error = DurableClient::from_connection_string(&connection_string(port), untrusted)
        .unwrap()
        .hello()
        .await
        .unwrap_err();
    assert!(
        error.is_transient(),
        "a TLS failure looks like an unreachable engine: {error:?}"
    );
    assert_eq!(scheduler.seen().len(), before, "the handshake failed before any call");

    // A token over plain HTTP is refused before anything is sent.
    let plain = format!("Endpoint=http://127.0.0.1:{port};Authentication=None;TaskHub={TASK_HUB}");
    let error = DurableClient::from_connection_string(
        &plain,
        ClientOptions::default().with_credential(FakeCredential::new(chrono::Duration::hours(1)), "scope"),
    )
    .unwrap_err();
    assert!(error.to_string().contains("clear text"), "{error}");
}

async fn greet(_ctx: OrchestrationContext, name: String) -> Result<String, Error> {
    Ok(format!("Hello, {name}!"))
}

#[tokio::test]
async fn the_worker_runs_work_from_the_scheduler_with_its_identity_on_every_call() {
    let certificates = certificates();
    let scheduler = FakeScheduler::default();
    let (completions, mut completed) = mpsc::unbounded_channel();
    *scheduler.completions.lock().unwrap() = Some(completions);
    scheduler.work_items.lock().unwrap().push_back(proto::WorkItem {
        request: Some(work_item::Request::OrchestratorRequest(proto::OrchestratorRequest {
            instance_id: "order-7".into(),
            new_events: vec![
                history::orchestrator_started_now(),
                history::execution_started("Greet", "order-7", Some("\"Oslo\"")),
            ],
            ..Default::default()
        })),
        completion_token: "lease-1".into(),
    });
    let port = serve(scheduler.clone(), certificates.server.clone()).await;

    let mut registry = Registry::new();
    registry.add_orchestrator("Greet", greet).unwrap();
    let credential = FakeCredential::new(chrono::Duration::hours(1));
    let options = WorkerOptions::default()
        .with_client_options(options(&certificates, credential))
        .with_worker_instance_id("worker-1");
    let worker = Worker::new(registry, options);
    let (stop, stopped) = oneshot::channel::<()>();
    let connection = connection_string(port);
    let running = tokio::spawn(async move {
        worker
            .run_with_connection_string(&connection, async {
                let _ = stopped.await;
            })
            .await
    });

    let response = tokio::time::timeout(WAIT, completed.recv()).await.unwrap().unwrap();
    assert_eq!(response.completion_token, "lease-1");
    let Some(Action::CompleteOrchestration(done)) = &response.actions[0].orchestrator_action_type else {
        panic!("{response:?}")
    };
    assert_eq!(done.result.as_deref(), Some("\"Hello, Oslo!\""));

    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, running).await.unwrap().unwrap().unwrap();
    let seen = scheduler.seen();
    assert_eq!(
        seen.iter().map(|s| s.rpc).collect::<Vec<_>>(),
        ["GetWorkItems", "CompleteOrchestratorTask"]
    );
    for call in &seen {
        assert_eq!(call.authorization.as_deref(), Some("Bearer token-1"), "{call:?}");
        assert_eq!(call.task_hub.as_deref(), Some(TASK_HUB), "{call:?}");
        assert_eq!(call.worker_id.as_deref(), Some("worker-1"), "{call:?}");
    }
}
