//! Reuse of one HTTP/2 channel per engine endpoint across invocations, for a bounded number of endpoints.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;
use tonic::transport::Channel;

use super::transport::endpoint_for;
use super::{ClientError, ClientOptions, DurableClient};
use crate::functions::DurableClientBinding;

/// The default number of endpoints a [`ClientCache`] keeps a channel for. A Functions app sees one endpoint (the
/// host's) for its whole life, a few at most across host restarts; the bound only matters when something sends
/// many distinct endpoint URLs.
pub const DEFAULT_MAX_CACHED_ENDPOINTS: usize = 16;

/// Hands out [`DurableClient`]s that share one lazily connected channel per endpoint URL.
///
/// A Functions app receives the engine endpoint with every invocation (the `durableClient` binding); the
/// cache turns that into a client without opening a new connection each time. It keeps at most
/// [`capacity`](Self::capacity) channels: a new endpoint beyond that evicts the least recently used one, whose
/// connection closes once the clients still using it are dropped. The lock around the cache is held only to
/// look a channel up or insert it, never across I/O.
#[derive(Debug)]
pub struct ClientCache {
    defaults: ClientOptions,
    channels: Mutex<LruCache<String, Channel>>,
}

impl Default for ClientCache {
    fn default() -> Self {
        Self::new(ClientOptions::default())
    }
}

impl ClientCache {
    /// A cache of up to [`DEFAULT_MAX_CACHED_ENDPOINTS`] channels whose clients start from `defaults` (deadline,
    /// connect timeout, size limits), overridden by what each binding says.
    pub fn new(defaults: ClientOptions) -> Self {
        Self::with_capacity(defaults, DEFAULT_MAX_CACHED_ENDPOINTS)
    }

    /// A cache of up to `capacity` channels (at least one).
    pub fn with_capacity(defaults: ClientOptions, capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            defaults,
            channels: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// A client for the engine, task hub and limits a `durableClient` binding names. Does no I/O; must be
    /// called within a Tokio runtime.
    pub fn client_for(&self, binding: &DurableClientBinding) -> Result<DurableClient, ClientError> {
        let options = self.defaults.clone().with_binding(binding);
        self.client(&binding.rpc_base_url, options)
    }

    /// A client for `endpoint` with `options`, over the cached channel for that endpoint. The channel's
    /// connect timeout is the one of the first client built for the endpoint.
    pub fn client(&self, endpoint: &str, options: ClientOptions) -> Result<DurableClient, ClientError> {
        let channel = self.channel(endpoint, &options)?;
        DurableClient::with_channel(channel, options)
    }

    /// How many endpoints have a channel.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no channel has been created yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most endpoints the cache keeps a channel for.
    pub fn capacity(&self) -> usize {
        self.lock().cap().get()
    }

    /// True when the cache holds a channel for `endpoint` (without marking it as used).
    pub fn contains(&self, endpoint: &str) -> bool {
        self.lock().contains(&cache_key(endpoint))
    }

    fn channel(&self, endpoint: &str, options: &ClientOptions) -> Result<Channel, ClientError> {
        let key = cache_key(endpoint);
        if let Some(channel) = self.lock().get(&key) {
            return Ok(channel.clone());
        }
        // Built outside the lock (it only parses the URL and spawns the channel's worker task). Two callers
        // racing on a new endpoint both build one; the second insert wins and the first channel is dropped.
        let channel = endpoint_for(&key, options)?.connect_lazy();
        self.lock().push(key, channel.clone());
        Ok(channel)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Channel>> {
        // A poisoned lock only means another thread panicked mid-operation; the cache itself is still valid.
        self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn cache_key(endpoint: &str) -> String {
    endpoint.trim().trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(url: &str, hub: Option<&str>) -> DurableClientBinding {
        let mut binding = DurableClientBinding::new(url);
        binding.task_hub_name = hub.map(str::to_string);
        binding
    }

    #[tokio::test]
    async fn one_channel_per_endpoint_and_per_binding_headers() {
        let cache = ClientCache::new(ClientOptions::default());
        let a = cache
            .client_for(&binding("http://127.0.0.1:4001", Some("HubA")))
            .unwrap();
        let b = cache
            .client_for(&binding("http://127.0.0.1:4001/", Some("HubB")))
            .unwrap();
        assert_eq!(cache.len(), 1);
        assert_eq!(a.request(()).metadata().get("durable-taskhub").unwrap(), "HubA");
        assert_eq!(b.request(()).metadata().get("durable-taskhub").unwrap(), "HubB");
        cache.client_for(&binding("http://127.0.0.1:4002", None)).unwrap();
        assert_eq!(cache.len(), 2);
    }

    #[tokio::test]
    async fn invalid_endpoints_are_not_cached() {
        let cache = ClientCache::default();
        assert!(cache.client_for(&binding("http://bad host:1", None)).is_err());
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn the_least_recently_used_endpoint_is_evicted() {
        let cache = ClientCache::with_capacity(ClientOptions::default(), 2);
        let url = |port: u16| format!("http://127.0.0.1:{port}");
        cache.client_for(&binding(&url(1), None)).unwrap();
        cache.client_for(&binding(&url(2), None)).unwrap();
        cache.client_for(&binding(&url(1), None)).unwrap(); // 1 is now more recent than 2
        cache.client_for(&binding(&url(3), None)).unwrap();
        assert_eq!(cache.len(), 2);
        assert!(cache.contains(&url(1)) && cache.contains(&url(3)));
        assert!(!cache.contains(&url(2)), "the least recently used endpoint stays");
        assert_eq!(cache.capacity(), 2);
        assert_eq!(ClientCache::with_capacity(ClientOptions::default(), 0).capacity(), 1);
    }
}
