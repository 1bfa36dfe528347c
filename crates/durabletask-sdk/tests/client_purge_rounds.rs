//! `purge_instances_within` against a scripted engine that purges a backlog in steps, as the Durable extension does
//! on Azure Storage when the purge filter carries a timeout: each call deletes part of the backlog and answers
//! `isComplete = false` until nothing matching is left. (The local in-memory engine ignores the timeout and purges
//! everything in one call; `client_engine.rs` covers that case.)

mod fake_grpc;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use durabletask_sdk::client::{
    ClientError, ClientOptions, DurableClient, OrchestrationStatus, PurgeBudget, PurgeFilter, PurgeRound,
    PURGE_ANSWER_MARGIN,
};
use durabletask_sdk::proto;
use fake_grpc::{decode, serve_unary, UnaryAnswer, UnaryCall};

/// A backlog of `backlog` finished instances of which each purge call deletes at most `per_call`; every call it
/// receives is recorded.
async fn stepwise_engine(backlog: u32, per_call: u32) -> (String, Arc<Mutex<Vec<UnaryCall>>>) {
    let remaining = Arc::new(AtomicU32::new(backlog));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let recorded = calls.clone();
    let url = serve_unary(move |call: UnaryCall| {
        recorded.lock().unwrap().push(call.clone());
        let remaining = remaining.clone();
        async move {
            assert_eq!(call.method, "PurgeInstances");
            let left = remaining.load(Ordering::SeqCst);
            let deleted = left.min(per_call);
            remaining.store(left - deleted, Ordering::SeqCst);
            UnaryAnswer::ok(&proto::PurgeInstancesResponse {
                deleted_instance_count: i32::try_from(deleted).unwrap(),
                is_complete: Some(left == deleted),
            })
        }
    })
    .await;
    (url, calls)
}

fn client(url: &str) -> DurableClient {
    DurableClient::connect_lazy(url, ClientOptions::default().with_call_timeout(Duration::from_secs(10))).unwrap()
}

fn filter() -> PurgeFilter {
    PurgeFilter::created_before(Utc::now()).with_statuses([OrchestrationStatus::Completed])
}

#[tokio::test]
async fn a_backlog_far_larger_than_one_call_is_purged_in_rounds_until_complete() {
    let (url, calls) = stepwise_engine(10_000, 700).await;
    let mut rounds: Vec<PurgeRound> = Vec::new();
    let budget = PurgeBudget::new(Duration::from_secs(120)).with_per_call(Duration::from_secs(20));
    let progress = client(&url)
        .purge_instances_within(&filter(), budget, |round| rounds.push(*round))
        .await
        .unwrap();

    assert!(progress.is_complete);
    assert_eq!(progress.deleted_instance_count, 10_000);
    assert_eq!(progress.rounds, 15, "700 per call: 14 full calls and one of 200");
    assert_eq!(rounds.len(), 15);
    assert!(rounds[..14]
        .iter()
        .all(|r| r.deleted_instance_count == 700 && !r.is_complete));
    assert_eq!((rounds[14].deleted_instance_count, rounds[14].is_complete), (200, true));

    // Every call carried the filter timeout, and a deadline that leaves the engine time to answer after it.
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 15);
    for call in calls.iter() {
        let request: proto::PurgeInstancesRequest = decode(&call.message);
        let Some(proto::purge_instances_request::Request::PurgeInstanceFilter(sent)) = request.request else {
            panic!("not a filter purge: {request:?}")
        };
        let timeout = sent.timeout.expect("the filter timeout is sent");
        assert!(timeout.seconds <= 20 && timeout.seconds >= 19, "{timeout:?}");
        assert_eq!(sent.runtime_status, [proto::OrchestrationStatus::Completed as i32]);
        let deadline = call.headers["grpc-timeout"].to_str().unwrap();
        let micros: u64 = deadline.trim_end_matches('u').parse().unwrap();
        assert!(
            micros > (Duration::from_secs(19) + PURGE_ANSWER_MARGIN).as_micros() as u64,
            "the call deadline {deadline} does not cover the filter timeout and the answer margin"
        );
    }
}

#[tokio::test]
async fn the_run_stops_incomplete_when_the_budget_is_spent() {
    // An engine that deletes one instance per call and takes 100 ms to do it, with a backlog that never ends.
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let url = serve_unary(move |_call| {
        counted.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            UnaryAnswer::ok(&proto::PurgeInstancesResponse {
                deleted_instance_count: 1,
                is_complete: Some(false),
            })
        }
    })
    .await;
    let budget = PurgeBudget::new(Duration::from_secs(2)).with_per_call(Duration::from_millis(300));
    let progress = client(&url)
        .purge_instances_within(&filter(), budget, |_| {})
        .await
        .unwrap();
    assert!(!progress.is_complete);
    assert!(progress.rounds >= 2, "{progress:?}");
    assert_eq!(u64::from(progress.rounds), progress.deleted_instance_count);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        progress.rounds,
        "no call starts after the budget"
    );
}

#[tokio::test]
async fn a_call_past_its_deadline_ends_the_run_without_an_error_and_other_failures_are_errors() {
    let answers = Arc::new(AtomicU32::new(0));
    let url = serve_unary(move |_call| {
        let n = answers.fetch_add(1, Ordering::SeqCst);
        async move {
            match n {
                0 => UnaryAnswer::ok(&proto::PurgeInstancesResponse {
                    deleted_instance_count: 5,
                    is_complete: Some(false),
                }),
                1 => UnaryAnswer::Status(4, "purge took too long".into()), // DEADLINE_EXCEEDED
                _ => UnaryAnswer::Status(14, "storage is down".into()),    // UNAVAILABLE
            }
        }
    })
    .await;
    let client = client(&url);
    let budget = PurgeBudget::new(Duration::from_secs(60));
    let progress = client.purge_instances_within(&filter(), budget, |_| {}).await.unwrap();
    assert_eq!(
        (progress.rounds, progress.deleted_instance_count, progress.is_complete),
        (1, 5, false)
    );

    let error = client
        .purge_instances_within(&filter(), budget, |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Unavailable {
                rpc: "PurgeInstances",
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unfinished_status_is_refused_before_anything_is_sent() {
    let (url, calls) = stepwise_engine(10, 10).await;
    let running = filter().with_statuses([OrchestrationStatus::Running]);
    let error = client(&url).purge_instances(&running).await.unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::InvalidArgument {
                rpc: "PurgeInstances",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("not Running"), "{error}");
    assert!(calls.lock().unwrap().is_empty());
}
