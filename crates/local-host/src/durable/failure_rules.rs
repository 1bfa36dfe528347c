//! What the Durable extension does when the function behind a work item fails: retry the work item, or record
//! the failure for good. Pure rules, one per work-item kind, each citing the source it follows.
//!
//! The host reports a failed invocation to the extension as the exception on its `FunctionResult`; the
//! extension's `OutOfProcMiddleware` (Azure/azure-functions-durable-extension,
//! `src/WebJobs.Extensions.DurableTask/OutOfProcMiddleware.cs`) either throws `SessionAbortedException`, which
//! makes DTFx abandon the work item and deliver it again, or turns the failure into a result that is committed.
//! For a custom handler, the host's exceptions are these (Azure/azure-functions-host,
//! `src/WebJobs.Script/Workers/Http/DefaultHttpWorkerService.cs`, `ProcessDefaultInvocationRequest`):
//!
//! * a non-2xx answer: `EnsureSuccessStatusCode` throws `HttpRequestException`;
//! * an unreadable body: `GetHttpScriptInvocationResult` throws `InvalidOperationException`;
//! * a crashed handler (killed, out of memory, restarted after another invocation's timeout): the pending
//!   `HttpClient.SendAsync` fails with `HttpRequestException` (connection reset or refused). The HTTP worker
//!   path never raises the `WorkerProcessExitException` that the middleware's `IsPlatformLevelException`
//!   recognises, and `FunctionTimeoutAbortException` is raised only by the gRPC worker channel for the
//!   invocations it fails when it shuts down (azure-functions-host PR #11159), never for an HTTP worker;
//! * an unusable `ReturnValue` of a durable trigger: the middleware's own `InvokeHandler` throws while the
//!   function runs;
//!
//! each wrapped by the WebJobs executor in a `FunctionInvocationException` (Azure/azure-webjobs-sdk,
//! `FunctionExecutor.GetExceptionDispatchInfo`), except the function timeout, which reaches the extension as
//! the `FunctionTimeoutException` itself (same method).

use durabletask_sdk::proto::TaskFailureDetails;

use crate::output::stats::WorkItemKind;

/// A failed invocation as the host reports it to the extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostFailure {
    /// The invocation reached `functionTimeout` (`FunctionTimeoutException`; the host then restarts the
    /// handler process).
    TimedOut,
    /// The host is stopping (`OnStopping` was cancelled) or has given up on the handler process (after three
    /// failed restarts it stops the application: `HttpFunctionInvocationDispatcher.RestartWorkerChannel`).
    HostStopping,
    /// Anything else: a non-2xx answer, an unreadable answer, a connection reset or refused (the handler
    /// crashed), an unusable durable `ReturnValue` (`FunctionInvocationException`).
    FunctionFailed,
}

/// What the extension does with the work item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureRule {
    /// Abandon the work item (`SessionAbortedException`); the engine delivers it again.
    Retry,
    /// Record the failure: the orchestration fails, the activity's task fails, or every operation of the
    /// entity batch fails with its signals and state change dropped.
    Fail,
}

/// The extension's rule for a failed invocation of a work item of `kind`.
pub fn failure_rule(kind: WorkItemKind, failure: HostFailure) -> FailureRule {
    match (kind, failure) {
        // Every `Call*Async` of OutOfProcMiddleware catches the host's shutdown
        // (`HostLifetimeService.OnStopping.ThrowIfCancellationRequested`) and throws `SessionAbortedException`.
        (_, HostFailure::HostStopping) => FailureRule::Retry,
        // `CallOrchestratorAsync` and `CallActivityAsync` rethrow when `IsPlatformLevelException`, which includes
        // `FunctionTimeoutException`; anything else fails the orchestration ("Function '…' failed with an
        // unhandled exception.") or the activity (`TaskFailedEvent`).
        (WorkItemKind::Orchestration | WorkItemKind::Activity, HostFailure::TimedOut) => FailureRule::Retry,
        // `CallEntityAsync` retries only `FunctionTimeoutAbortException` (another invocation's timeout, gRPC
        // workers only): an entity's own timeout, like any other failure, becomes `SetErrorResult(... isNonRetriable:
        // true)`, which DTFx `TaskEntityDispatcher` turns into an error result for every operation of the batch.
        (WorkItemKind::Entity, HostFailure::TimedOut) => FailureRule::Fail,
        (_, HostFailure::FunctionFailed) => FailureRule::Fail,
    }
}

/// The .NET type name of the exception the extension sees, for failure details.
pub fn exception_type(failure: HostFailure) -> &'static str {
    match failure {
        HostFailure::TimedOut => "Microsoft.Azure.WebJobs.Host.FunctionTimeoutException",
        HostFailure::HostStopping => "System.OperationCanceledException",
        HostFailure::FunctionFailed => "Microsoft.Azure.WebJobs.Host.FunctionInvocationException",
    }
}

/// The batch-level failure `CallEntityAsync` records when the entity function failed without a usable result
/// (`SetErrorResult` with `errorType: "FunctionInvocationFailed"`, non-retriable), `reason` describing the
/// host's exception.
pub fn entity_batch_failure(function: &str, failure: HostFailure, reason: &str) -> TaskFailureDetails {
    TaskFailureDetails {
        error_type: "FunctionInvocationFailed".to_owned(),
        error_message: format!("Invocation of function '{function}' failed with an exception."),
        inner_failure: Some(Box::new(TaskFailureDetails {
            error_type: exception_type(failure).to_owned(),
            error_message: reason.to_owned(),
            ..TaskFailureDetails::default()
        })),
        is_non_retriable: true,
        ..TaskFailureDetails::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_is_retried_for_every_kind() {
        for kind in [
            WorkItemKind::Orchestration,
            WorkItemKind::Activity,
            WorkItemKind::Entity,
        ] {
            assert_eq!(failure_rule(kind, HostFailure::HostStopping), FailureRule::Retry);
        }
    }

    #[test]
    fn a_timeout_is_retried_for_orchestrations_and_activities_but_fails_an_entity_batch() {
        assert_eq!(
            failure_rule(WorkItemKind::Orchestration, HostFailure::TimedOut),
            FailureRule::Retry
        );
        assert_eq!(
            failure_rule(WorkItemKind::Activity, HostFailure::TimedOut),
            FailureRule::Retry
        );
        assert_eq!(
            failure_rule(WorkItemKind::Entity, HostFailure::TimedOut),
            FailureRule::Fail
        );
    }

    #[test]
    fn any_other_failure_is_final_for_every_kind() {
        for kind in [
            WorkItemKind::Orchestration,
            WorkItemKind::Activity,
            WorkItemKind::Entity,
        ] {
            assert_eq!(failure_rule(kind, HostFailure::FunctionFailed), FailureRule::Fail);
        }
    }

    #[test]
    fn entity_batch_failures_are_non_retriable_and_name_the_function() {
        let details = entity_batch_failure("EntityFunction", HostFailure::FunctionFailed, "connection reset");
        assert_eq!(details.error_type, "FunctionInvocationFailed");
        assert_eq!(
            details.error_message,
            "Invocation of function 'EntityFunction' failed with an exception."
        );
        assert!(details.is_non_retriable);
        let inner = details.inner_failure.unwrap();
        assert_eq!(
            inner.error_type,
            "Microsoft.Azure.WebJobs.Host.FunctionInvocationException"
        );
        assert_eq!(inner.error_message, "connection reset");
    }
}
