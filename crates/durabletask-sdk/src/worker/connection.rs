//! One `GetWorkItems` stream: open it, hand every work item to the dispatcher, and say how it ended.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::{sleep_until, Instant};

use super::dispatch::Dispatcher;
use crate::client::DurableClient;
use crate::proto;

/// How a stream ended.
#[derive(Debug)]
pub(super) enum StreamEnd {
    /// Shutdown was requested.
    ShutdownRequested,
    /// The engine closed the stream.
    Closed { received: bool },
    /// The stream could not be opened, or broke.
    Failed { status: tonic::Status, received: bool },
    /// Nothing arrived for the silent-disconnect timeout.
    Silent { received: bool },
}

impl StreamEnd {
    /// True when the stream delivered at least one message, i.e. the connection worked.
    pub(super) fn received(&self) -> bool {
        match self {
            StreamEnd::ShutdownRequested => false,
            StreamEnd::Closed { received } | StreamEnd::Failed { received, .. } | StreamEnd::Silent { received } => {
                *received
            }
        }
    }

    /// Why the stream ended, for the logs and for [`WorkerError::GaveUp`](super::WorkerError::GaveUp).
    pub(super) fn describe(&self) -> String {
        match self {
            StreamEnd::ShutdownRequested => "shutdown was requested".to_string(),
            StreamEnd::Closed { .. } => "the engine closed the work item stream".to_string(),
            StreamEnd::Failed { status, .. } => format!("{:?}: {}", status.code(), status.message()),
            StreamEnd::Silent { .. } => "no message from the engine within the silent-disconnect timeout".to_string(),
        }
    }
}

/// Opens a work item stream and runs it until it ends or shutdown is requested, finishing off completed work
/// items meanwhile.
pub(super) async fn pump<S: Future<Output = ()>>(
    client: &DurableClient,
    request: &proto::GetWorkItemsRequest,
    dispatcher: &mut Dispatcher,
    mut shutdown: Pin<&mut S>,
    silent_timeout: Option<Duration>,
) -> StreamEnd {
    let mut call = client.request(request.clone());
    // The stream lives as long as the worker: no deadline.
    call.metadata_mut().remove("grpc-timeout");
    let mut sidecar = client.sidecar();
    let open = sidecar.get_work_items(call);
    tokio::pin!(open);
    let mut idle_deadline = silent_timeout.map(|timeout| Instant::now() + timeout);
    let mut stream = loop {
        tokio::select! {
            biased;
            () = shutdown.as_mut() => return StreamEnd::ShutdownRequested,
            opened = &mut open => match opened {
                Ok(response) => break response.into_inner(),
                Err(status) => return StreamEnd::Failed { status, received: false },
            },
            () = dispatcher.next_finished(), if dispatcher.is_busy() => {}
            () = sleep_until_or_forever(idle_deadline) => return StreamEnd::Silent { received: false },
        }
    };
    tracing::info!("connected to the engine; waiting for work items");
    let mut received = false;
    loop {
        tokio::select! {
            biased;
            () = shutdown.as_mut() => return StreamEnd::ShutdownRequested,
            // `Streaming::message` is cancel-safe: partly received messages stay buffered in the stream.
            message = stream.message() => match message {
                Ok(Some(item)) => {
                    received = true;
                    idle_deadline = silent_timeout.map(|timeout| Instant::now() + timeout);
                    dispatcher.dispatch(item);
                }
                Ok(None) => return StreamEnd::Closed { received },
                Err(status) => return StreamEnd::Failed { status, received },
            },
            () = dispatcher.next_finished(), if dispatcher.is_busy() => {}
            () = sleep_until_or_forever(idle_deadline) => return StreamEnd::Silent { received },
        }
    }
}

/// Waits `delay` before the next connection attempt, finishing off completed work items meanwhile. Returns
/// false when shutdown was requested instead.
pub(super) async fn back_off<S: Future<Output = ()>>(
    delay: Duration,
    dispatcher: &mut Dispatcher,
    mut shutdown: Pin<&mut S>,
) -> bool {
    let deadline = Instant::now() + delay;
    loop {
        tokio::select! {
            biased;
            () = shutdown.as_mut() => return false,
            () = sleep_until(deadline) => return true,
            () = dispatcher.next_finished(), if dispatcher.is_busy() => {}
        }
    }
}

async fn sleep_until_or_forever(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
