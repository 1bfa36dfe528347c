//! Invoking a function on the handler as the host does: `POST http://127.0.0.1:{port}/{FunctionName}`
//! with the host headers, the per-invocation function timeout (after which the handler is killed and
//! restarted), and on success the response's `Logs` printed and its Service Bus `Outputs` published.
//! Faults armed in its [`FaultInjector`] are applied here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use uuid::Uuid;

use crate::app_model::FunctionDefinition;
use crate::durable::failure_rules::HostFailure;
use crate::handler::http_client::{chunked_body, HttpClient};
use crate::handler::process::{HandlerInstance, HandlerSupervisor, HandlerUnavailable};
use crate::invocation::envelope::{parse_response, InvocationRequest, InvocationResult, ResponseError};
use crate::invocation::faults::{freeze_process, FaultInjector, InvocationFault, TakenFault};
use crate::invocation::payloads::merge_return_value_into_outputs;
use crate::output::published::{published_messages, Records};
use crate::output::stats::Stats;

/// The Functions host version the local host reports (`X-Azure-Functions-HostVersion`).
pub const HOST_VERSION: &str = "4.1037.0.23568";

/// How long to wait for the exit notice after a broken connection before calling it a plain failure.
const EXIT_NOTICE_GRACE: Duration = Duration::from_millis(250);

/// Why an invocation did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InvokeError {
    /// The handler answered, but not with a usable success: the host fails the function.
    #[error(transparent)]
    Response(#[from] ResponseError),
    /// The request failed without a response (connection refused or reset).
    #[error("the request to the handler failed: {0}")]
    Transport(String),
    /// `functionTimeout` elapsed; the handler process was killed and is being restarted.
    #[error("the function timeout of {0:?} elapsed; the handler process is being restarted")]
    TimedOut(Duration),
    /// The handler process exited while the invocation was in flight.
    #[error("the handler process exited during the invocation")]
    HandlerExited,
    /// No handler is available (the supervisor gave up, or the host is stopping).
    #[error(transparent)]
    Unavailable(#[from] HandlerUnavailable),
}

impl InvokeError {
    /// How the Functions host reports this failure to the Durable extension (see [`crate::durable::failure_rules`]).
    pub fn host_failure(&self) -> HostFailure {
        match self {
            Self::TimedOut(_) => HostFailure::TimedOut,
            Self::Unavailable(_) => HostFailure::HostStopping,
            // A crashed handler reaches the host as a reset or refused connection: an `HttpRequestException`.
            Self::Response(_) | Self::Transport(_) | Self::HandlerExited => HostFailure::FunctionFailed,
        }
    }
}

/// Invokes functions on the supervised handler.
#[derive(Debug)]
pub struct Invoker {
    supervisor: Arc<HandlerSupervisor>,
    http: HttpClient,
    stats: Arc<Stats>,
    records: Arc<Records>,
    function_timeout: Option<Duration>,
    faults: FaultInjector,
}

impl Invoker {
    /// An invoker; `function_timeout` `None` means unlimited.
    pub fn new(
        supervisor: Arc<HandlerSupervisor>,
        http: HttpClient,
        stats: Arc<Stats>,
        records: Arc<Records>,
        function_timeout: Option<Duration>,
    ) -> Self {
        Self {
            supervisor,
            http,
            stats,
            records,
            function_timeout,
            faults: FaultInjector::default(),
        }
    }

    /// The faults to apply to coming invocations (for fault tests).
    pub fn faults(&self) -> &FaultInjector {
        &self.faults
    }

    /// The function timeout, if any.
    pub fn function_timeout(&self) -> Option<Duration> {
        self.function_timeout
    }

    /// The handler supervisor.
    pub fn supervisor(&self) -> &Arc<HandlerSupervisor> {
        &self.supervisor
    }

    /// Invokes `function` with `request`. On success the `Logs` lines are printed and the messages of
    /// Service Bus output bindings are published; on failure the response is ignored, as by the host.
    pub async fn invoke(
        &self,
        function: &FunctionDefinition,
        request: &InvocationRequest,
    ) -> Result<InvocationResult, InvokeError> {
        let instance = self.supervisor.ready().await?;
        let invocation_id = Uuid::new_v4();
        self.stats.invocation_started(&function.name);
        let started = Instant::now();
        let mut fault = self.faults.take(&function.name);
        let outcome = self
            .call(&instance, &function.name, request, invocation_id, &mut fault)
            .await;
        if let Some(unapplied) = fault {
            // The invocation failed before the fault could apply (e.g. another fault killed the process).
            self.faults.rearm(unapplied);
        }
        let took = started.elapsed();
        match &outcome {
            Ok(result) => {
                for line in &result.logs {
                    tracing::info!(target: "local_host::function", function = %function.name, "{line}");
                }
                let mut outputs = result.outputs.clone();
                merge_return_value_into_outputs(function, &result.return_value, &mut outputs);
                let messages = published_messages(function, &outputs);
                for message in &messages {
                    self.stats.published(&message.destination, 1);
                }
                self.records.publish(messages);
            }
            Err(error) => {
                tracing::warn!(function = %function.name, %invocation_id, "invocation failed: {error}");
            }
        }
        self.stats
            .invocation_ended(&function.name, took, |counts| match &outcome {
                Ok(_) => counts.succeeded += 1,
                Err(InvokeError::TimedOut(_)) => counts.timed_out += 1,
                Err(InvokeError::HandlerExited | InvokeError::Unavailable(_)) => counts.lost += 1,
                Err(_) => counts.failed += 1,
            });
        outcome
    }

    async fn call(
        &self,
        instance: &HandlerInstance,
        function_name: &str,
        request: &InvocationRequest,
        invocation_id: Uuid,
        fault: &mut Option<TakenFault>,
    ) -> Result<InvocationResult, InvokeError> {
        let body = Bytes::from(serde_json::to_vec(&request.to_json()).unwrap_or_default());
        let mut http_request = http::Request::post(format!("http://127.0.0.1:{}/{function_name}", instance.port));
        if let Some(traceparent) = &request.traceparent {
            http_request = http_request.header("traceparent", traceparent);
        }
        let http_request = http_request
            .header(http::header::CONTENT_TYPE, "application/json; charset=utf-8")
            .header("X-Azure-Functions-HostVersion", HOST_VERSION)
            .header("X-Azure-Functions-InvocationId", invocation_id.hyphenated().to_string())
            .header(http::header::USER_AGENT, format!("Azure-Functions-Host/{HOST_VERSION}"))
            .body(chunked_body(body))
            .map_err(|error| InvokeError::Transport(error.to_string()))?;
        let mut held_unsent = false;
        if let Some(taken) = fault.take_if(|taken| taken.fault == InvocationFault::Hang) {
            tracing::warn!(
                function = function_name,
                "fault injection: freezing the handler process"
            );
            let frozen = match instance.pid {
                Some(pid) => freeze_process(pid).await,
                None => Err(std::io::Error::other("its process id is unknown")),
            };
            match frozen {
                Ok(()) => taken.applied(),
                // On a loaded machine a stop can take longer than the freeze allows; the invocation still hangs
                // (it is never sent, so it times out and the process is killed), or the fault would be lost when
                // no later invocation of the function comes.
                Err(error) if self.function_timeout.is_some() => {
                    tracing::warn!("fault injection: cannot freeze the handler ({error}); holding the request unsent");
                    held_unsent = true;
                    taken.applied();
                }
                Err(error) => {
                    tracing::warn!("fault injection: cannot freeze the handler ({error}); trying the next invocation");
                    *fault = Some(taken);
                }
            }
        }
        let exchange = async {
            if held_unsent {
                std::future::pending::<()>().await;
            }
            tokio::select! {
                response = self.http.send(http_request) => Some(response),
                () = instance.exited() => None,
            }
        };
        let exchanged = match self.function_timeout {
            Some(limit) => match tokio::time::timeout(limit, exchange).await {
                Ok(exchanged) => exchanged,
                Err(_) => {
                    tracing::warn!(
                        "A function timeout has occurred. Restarting worker process executing invocationId '{invocation_id}' ({function_name})"
                    );
                    self.supervisor.kill(instance.generation);
                    return Err(InvokeError::TimedOut(limit));
                }
            },
            None => exchange.await,
        };
        match exchanged {
            None => Err(InvokeError::HandlerExited),
            Some(Ok(_))
                if fault
                    .as_ref()
                    .is_some_and(|taken| taken.fault == InvocationFault::CrashAfterAnswer) =>
            {
                tracing::warn!(
                    function = function_name,
                    "fault injection: killing the handler before its answer is read"
                );
                self.supervisor.kill(instance.generation);
                instance.exited().await;
                if let Some(taken) = fault.take() {
                    taken.applied();
                }
                Err(InvokeError::HandlerExited)
            }
            Some(Ok(response)) => Ok(parse_response(
                response.status,
                response.content_type.as_deref(),
                &response.body,
            )?),
            Some(Err(transport)) => {
                // A dying process resets its connections a moment before its exit is noticed.
                if tokio::time::timeout(EXIT_NOTICE_GRACE, instance.exited()).await.is_ok() {
                    Err(InvokeError::HandlerExited)
                } else {
                    Err(InvokeError::Transport(transport.0))
                }
            }
        }
    }
}
