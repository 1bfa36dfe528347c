//! Client calls on orchestration instances: inspect, wait, raise events, terminate, suspend, resume, rewind,
//! restart and query (starting them is in `start.rs`).

use std::time::Duration;

use serde::Serialize;

use super::page::next_token;
use super::{ClientError, DurableClient, InstanceIdQuery, InstanceQuery, OrchestrationMetadata, Page};
use crate::json;
use crate::proto;

impl DurableClient {
    /// The state of an instance with its payloads (input, output, custom status, failure details), or `None` when
    /// it does not exist.
    pub async fn get_instance(&self, instance_id: &str) -> Result<Option<OrchestrationMetadata>, ClientError> {
        self.fetch_instance(instance_id, true).await
    }

    /// The state of an instance without its payloads (status, name and times only: a smaller answer), or `None`
    /// when it does not exist.
    pub async fn get_instance_without_payloads(
        &self,
        instance_id: &str,
    ) -> Result<Option<OrchestrationMetadata>, ClientError> {
        self.fetch_instance(instance_id, false).await
    }

    async fn fetch_instance(
        &self,
        instance_id: &str,
        fetch_payloads: bool,
    ) -> Result<Option<OrchestrationMetadata>, ClientError> {
        const RPC: &str = "GetInstance";
        let response = self
            .call(
                RPC,
                instance_request(instance_id, fetch_payloads),
                self.call_timeout,
                |mut sidecar, request| async move { sidecar.get_instance(request).await },
            )
            .await?;
        instance_from_response(RPC, response)
    }

    /// Waits until the instance has started (left `Pending`), at most `timeout`, and returns its state with
    /// payloads; `None` when it does not exist. When the time is up: [`ClientError::DeadlineExceeded`].
    pub async fn wait_for_instance_start(
        &self,
        instance_id: &str,
        timeout: Duration,
    ) -> Result<Option<OrchestrationMetadata>, ClientError> {
        const RPC: &str = "WaitForInstanceStart";
        // The deadline is mandatory: some engines wait forever (or fail) without one.
        let response = self
            .call(
                RPC,
                instance_request(instance_id, true),
                timeout,
                |mut sidecar, request| async move { sidecar.wait_for_instance_start(request).await },
            )
            .await?;
        instance_from_response(RPC, response)
    }

    /// Waits until the instance has finished, at most `timeout`, and returns its state with payloads;
    /// `None` when it does not exist. When the time is up: [`ClientError::DeadlineExceeded`].
    pub async fn wait_for_instance_completion(
        &self,
        instance_id: &str,
        timeout: Duration,
    ) -> Result<Option<OrchestrationMetadata>, ClientError> {
        const RPC: &str = "WaitForInstanceCompletion";
        let response = self
            .call(
                RPC,
                instance_request(instance_id, true),
                timeout,
                |mut sidecar, request| async move { sidecar.wait_for_instance_completion(request).await },
            )
            .await?;
        instance_from_response(RPC, response)
    }

    /// Sends the event `event_name` with `data` (serialized as JSON) to an instance.
    pub async fn raise_event<T: Serialize + ?Sized>(
        &self,
        instance_id: &str,
        event_name: &str,
        data: &T,
    ) -> Result<(), ClientError> {
        let request = proto::RaiseEventRequest {
            instance_id: instance_id.to_string(),
            name: event_name.to_string(),
            input: json::encode(data)?,
        };
        self.call(
            "RaiseEvent",
            request,
            self.call_timeout,
            |mut sidecar, request| async move { sidecar.raise_event(request).await },
        )
        .await?;
        Ok(())
    }

    /// Terminates an instance; `output` (serialized as JSON) becomes its output. Sub-orchestrations are not
    /// terminated (see [`DurableClient::terminate_with`]).
    pub async fn terminate<T: Serialize + ?Sized>(&self, instance_id: &str, output: &T) -> Result<(), ClientError> {
        self.terminate_with(instance_id, output, TerminateOptions::default())
            .await
    }

    /// Terminates an instance with `options`; `output` (serialized as JSON) becomes its output.
    pub async fn terminate_with<T: Serialize + ?Sized>(
        &self,
        instance_id: &str,
        output: &T,
        options: TerminateOptions,
    ) -> Result<(), ClientError> {
        let request = proto::TerminateRequest {
            instance_id: instance_id.to_string(),
            output: json::encode(output)?,
            recursive: options.recursive,
        };
        self.call(
            "TerminateInstance",
            request,
            self.call_timeout,
            |mut sidecar, request| async move { sidecar.terminate_instance(request).await },
        )
        .await?;
        Ok(())
    }

    /// Suspends an instance: it stops processing events until it is resumed.
    pub async fn suspend(&self, instance_id: &str, reason: Option<&str>) -> Result<(), ClientError> {
        let request = proto::SuspendRequest {
            instance_id: instance_id.to_string(),
            reason: reason.map(str::to_string),
        };
        self.call(
            "SuspendInstance",
            request,
            self.call_timeout,
            |mut sidecar, request| async move { sidecar.suspend_instance(request).await },
        )
        .await?;
        Ok(())
    }

    /// Resumes a suspended instance.
    pub async fn resume(&self, instance_id: &str, reason: Option<&str>) -> Result<(), ClientError> {
        let request = proto::ResumeRequest {
            instance_id: instance_id.to_string(),
            reason: reason.map(str::to_string),
        };
        self.call(
            "ResumeInstance",
            request,
            self.call_timeout,
            |mut sidecar, request| async move { sidecar.resume_instance(request).await },
        )
        .await?;
        Ok(())
    }

    /// Rewinds a failed instance: its failed tasks are forgotten and it runs again from there, with `reason`
    /// recorded in its history. Fails with [`ClientError::Rpc`] (`FAILED_PRECONDITION`) when the instance has not
    /// failed.
    ///
    /// The Durable Functions extension rewinds in the engine. durabletask's in-memory engine only appends an
    /// `executionRewound` event and leaves the rewrite of the history to the worker, which this SDK's executor does
    /// ([`crate::orchestration::rewind`]). Activities retried with a [`RetryPolicy`](crate::orchestration::RetryPolicy)
    /// that failed for good cannot be rewound on either (the retry timers stay in the history); restart those.
    pub async fn rewind(&self, instance_id: &str, reason: Option<&str>) -> Result<(), ClientError> {
        let request = proto::RewindInstanceRequest {
            instance_id: instance_id.to_string(),
            reason: reason.map(str::to_string),
        };
        self.call(
            "RewindInstance",
            request,
            self.call_timeout,
            |mut sidecar, request| async move { sidecar.rewind_instance(request).await },
        )
        .await?;
        Ok(())
    }

    /// Starts a finished instance again with its original name, input (and version), under the same id or, with
    /// [`RestartOptions::new_instance_id`], a new one; returns the id of the new run. Fails with
    /// [`ClientError::NotFound`] for an unknown instance and [`ClientError::Rpc`] (`FAILED_PRECONDITION`) for one
    /// that has not finished.
    pub async fn restart(&self, instance_id: &str, options: RestartOptions) -> Result<String, ClientError> {
        let request = proto::RestartInstanceRequest {
            instance_id: instance_id.to_string(),
            restart_with_new_instance_id: options.new_instance_id,
        };
        let response = self
            .call(
                "RestartInstance",
                request,
                self.call_timeout,
                |mut sidecar, request| async move { sidecar.restart_instance(request).await },
            )
            .await?;
        Ok(response.instance_id)
    }

    /// One page of the ids of finished instances matching `query`, in order of completion; pass the previous page's
    /// continuation token for the next one. Lighter than [`DurableClient::query_instances`] for sweeping a large
    /// task hub. Served by the Durable Task Scheduler and durabletask's in-memory engine, not by the Durable
    /// Functions extension (`UNIMPLEMENTED`).
    pub async fn list_instance_ids(
        &self,
        query: &InstanceIdQuery,
        continuation_token: Option<&str>,
    ) -> Result<Page<String>, ClientError> {
        let response = self
            .call(
                "ListInstanceIds",
                query.to_proto(continuation_token),
                self.call_timeout,
                |mut sidecar, request| async move { sidecar.list_instance_ids(request).await },
            )
            .await?;
        Ok(Page {
            items: response.instance_ids,
            continuation_token: next_token(response.last_instance_key),
        })
    }

    /// One page of the instances matching `query`; pass the previous page's continuation token to get the
    /// next one.
    pub async fn query_instances(
        &self,
        query: &InstanceQuery,
        continuation_token: Option<&str>,
    ) -> Result<Page<OrchestrationMetadata>, ClientError> {
        const RPC: &str = "QueryInstances";
        let request = proto::QueryInstancesRequest {
            query: Some(query.to_proto(continuation_token)),
        };
        let response = self
            .call(RPC, request, self.call_timeout, |mut sidecar, request| async move {
                sidecar.query_instances(request).await
            })
            .await?;
        let items = response
            .orchestration_state
            .into_iter()
            .map(|state| OrchestrationMetadata::from_proto(RPC, state))
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            continuation_token: next_token(response.continuation_token),
        })
    }

    /// Every instance matching `query`, fetching page after page.
    pub async fn query_all_instances(&self, query: &InstanceQuery) -> Result<Vec<OrchestrationMetadata>, ClientError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.query_instances(query, token.as_deref()).await?;
            all.extend(page.items);
            match page.continuation_token {
                Some(next) if token.as_deref() != Some(next.as_str()) => token = Some(next),
                Some(_) => return Err(repeated_token("QueryInstances")),
                None => return Ok(all),
            }
        }
    }
}

/// How [`DurableClient::terminate_with`] terminates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TerminateOptions {
    /// Also terminate the instance's sub-orchestrations, and theirs. Honoured by the Durable Task Scheduler; the
    /// Durable Functions extension and durabletask's in-memory engine ignore it.
    pub recursive: bool,
}

impl TerminateOptions {
    /// Terminates the sub-orchestrations as well.
    pub fn recursive() -> Self {
        Self { recursive: true }
    }
}

/// How [`DurableClient::restart`] restarts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestartOptions {
    /// Run under a new, generated instance id instead of replacing the finished instance.
    pub new_instance_id: bool,
}

impl RestartOptions {
    /// Restarts under a new instance id.
    pub fn with_new_instance_id() -> Self {
        Self { new_instance_id: true }
    }
}

fn instance_request(instance_id: &str, fetch_payloads: bool) -> proto::GetInstanceRequest {
    proto::GetInstanceRequest {
        instance_id: instance_id.to_string(),
        get_inputs_and_outputs: fetch_payloads,
    }
}

fn instance_from_response(
    rpc: &'static str,
    response: proto::GetInstanceResponse,
) -> Result<Option<OrchestrationMetadata>, ClientError> {
    match (response.exists, response.orchestration_state) {
        (true, Some(state)) => OrchestrationMetadata::from_proto(rpc, state).map(Some),
        (true, None) => Err(ClientError::UnexpectedResponse {
            rpc,
            message: "the instance exists but its state is missing".into(),
        }),
        (false, _) => Ok(None),
    }
}

/// A paging engine that hands back the token it was given would make the loop spin forever.
pub(super) fn repeated_token(rpc: &'static str) -> ClientError {
    ClientError::UnexpectedResponse {
        rpc,
        message: "the engine returned the same continuation token twice".into(),
    }
}
