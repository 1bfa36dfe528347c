//! Reuse of one HTTP/2 channel per engine endpoint across invocations.

use std::collections::HashMap;
use std::sync::RwLock;

use tonic::transport::Channel;

use super::{endpoint_for, ClientError, ClientOptions, DurableClient};
use crate::functions::DurableClientBinding;

/// Hands out [`DurableClient`]s that share one lazily connected channel per endpoint URL.
///
/// A Functions app receives the engine endpoint with every invocation (the `durableClient` binding); the
/// cache turns that into a client without opening a new connection each time. Lookups take a read lock
/// only; the write lock is taken once per new endpoint.
#[derive(Debug, Default)]
pub struct ClientCache {
    defaults: ClientOptions,
    channels: RwLock<HashMap<String, Channel>>,
}

impl ClientCache {
    /// A cache whose clients start from `defaults` (deadline, connect timeout, size limit), overridden by
    /// what each binding says.
    pub fn new(defaults: ClientOptions) -> Self {
        Self {
            defaults,
            channels: RwLock::new(HashMap::new()),
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
        self.channels
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    /// True when no channel has been created yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn channel(&self, endpoint: &str, options: &ClientOptions) -> Result<Channel, ClientError> {
        let key = endpoint.trim().trim_end_matches('/').to_string();
        // A poisoned lock only means another thread panicked mid-insert; the map itself is still valid.
        if let Some(channel) = self
            .channels
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&key)
        {
            return Ok(channel.clone());
        }
        let mut channels = self.channels.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(channel) = channels.get(&key) {
            return Ok(channel.clone());
        }
        let channel = endpoint_for(&key, options)?.connect_lazy();
        channels.insert(key, channel.clone());
        Ok(channel)
    }
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
}
