//! The client cache stays bounded however many distinct engine endpoints it is asked for: the least recently used
//! channels are evicted and their connections' tasks end, so memory comes back (issue: 20,000 distinct
//! `rpcBaseUrl`s used to keep 20,000 channels alive for good).

use std::time::{Duration, Instant};

use durabletask_sdk::client::{ClientCache, ClientOptions, DEFAULT_MAX_CACHED_ENDPOINTS};
use durabletask_sdk::functions::DurableClientBinding;
use tokio::runtime::Handle;

fn endpoint(n: u32) -> String {
    format!("http://10.{}.{}.{}:4001", n >> 16 & 0xff, n >> 8 & 0xff, n & 0xff)
}

#[tokio::test(flavor = "current_thread")]
async fn twenty_thousand_endpoints_leave_only_the_most_recent_channels_alive() {
    let metrics = Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    let cache = ClientCache::new(ClientOptions::default());
    for n in 0..20_000 {
        let client = cache
            .client_for(&DurableClientBinding::new(endpoint(n)))
            .expect("a valid endpoint");
        drop(client);
    }
    assert_eq!(cache.len(), DEFAULT_MAX_CACHED_ENDPOINTS);
    let newest = 20_000 - DEFAULT_MAX_CACHED_ENDPOINTS as u32;
    assert!((newest..20_000).all(|n| cache.contains(&endpoint(n))));
    assert!(!cache.contains(&endpoint(newest - 1)));

    // Each cached channel runs one worker task; an evicted channel's task ends once it notices it was dropped.
    let deadline = Instant::now() + Duration::from_secs(60);
    let bound = baseline + DEFAULT_MAX_CACHED_ENDPOINTS;
    while metrics.num_alive_tasks() > bound {
        assert!(
            Instant::now() < deadline,
            "{} tasks still alive, expected at most {bound}",
            metrics.num_alive_tasks()
        );
        tokio::task::yield_now().await;
    }
}
