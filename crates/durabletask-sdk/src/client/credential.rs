//! Bearer tokens for engines that want them (the Durable Task Scheduler): a small [`TokenCredential`] trait, and
//! the cache that asks it for a new token shortly before the current one expires.
//!
//! With the `azure-identity` feature, `AzureIdentityCredential` adapts any
//! credential of Microsoft's `azure_identity` crate (managed identity, workload identity, Azure CLI) to this trait.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use tokio::sync::Mutex;

/// The token scope of the Durable Task Scheduler (its resource id `https://durabletask.io` with `/.default`), the
/// one every official SDK asks for.
pub const DURABLE_TASK_SCHEDULER_SCOPE: &str = "https://durabletask.io/.default";

/// How long before a token expires the cache asks for a new one. The official SDKs use 5 (.NET, Java) or 10
/// (Python) minutes; a refresh that fails inside this window keeps the current, still valid token.
pub const DEFAULT_TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// An access token and when it stops being valid. Its `Debug` output hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The token, sent as `Authorization: Bearer <token>`.
    pub token: String,
    /// When the token expires.
    pub expires_on: DateTime<Utc>,
}

impl AccessToken {
    /// A token valid until `expires_on`.
    pub fn new(token: impl Into<String>, expires_on: DateTime<Utc>) -> Self {
        Self {
            token: token.into(),
            expires_on,
        }
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"<redacted>")
            .field("expires_on", &self.expires_on)
            .finish()
    }
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
#[error("cannot get an access token from {credential}: {message}")]
pub struct CredentialError {
    /// Which credential failed (for the message).
    pub credential: String,
    /// What went wrong.
    pub message: String,
    /// The underlying failure, when there is one.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl CredentialError {
    /// A failure of `credential` described by `message`.
    pub fn new(credential: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            credential: credential.into(),
            message: message.into(),
            source: None,
        }
    }

    /// Adds the underlying failure.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

/// Something that hands out access tokens for a scope: a managed identity, a workload identity, a developer's CLI
/// login, or a fake in tests.
///
/// ```
/// use chrono::{Duration, Utc};
/// use durabletask_sdk::client::{AccessToken, CredentialError, TokenCredential};
/// use futures::future::BoxFuture;
///
/// /// A token handed in from outside (for example from a secret store), valid for an hour.
/// #[derive(Debug)]
/// struct FixedToken(String);
///
/// impl TokenCredential for FixedToken {
///     fn get_token<'a>(&'a self, _scopes: &'a [&'a str]) -> BoxFuture<'a, Result<AccessToken, CredentialError>> {
///         Box::pin(async move { Ok(AccessToken::new(self.0.clone(), Utc::now() + Duration::hours(1))) })
///     }
/// }
/// ```
pub trait TokenCredential: Send + Sync + fmt::Debug {
    /// A token for `scopes` (the client asks for one scope, e.g. [`DURABLE_TASK_SCHEDULER_SCOPE`]).
    fn get_token<'a>(&'a self, scopes: &'a [&'a str]) -> BoxFuture<'a, Result<AccessToken, CredentialError>>;
}

/// A credential, the scope it is asked for, and the cached token: what a client sends as its `Authorization`
/// header. Clones share the cache, so every client and worker built from the same options asks the credential
/// once per token lifetime.
#[derive(Clone)]
pub struct BearerToken {
    cache: Arc<TokenCache>,
}

impl BearerToken {
    /// Tokens of `credential` for `scope`, refreshed [`DEFAULT_TOKEN_REFRESH_MARGIN`] before they expire.
    pub fn new(credential: Arc<dyn TokenCredential>, scope: impl Into<String>) -> Self {
        Self::with_refresh_margin(credential, scope, DEFAULT_TOKEN_REFRESH_MARGIN)
    }

    /// Tokens of `credential` for `scope`, refreshed `margin` before they expire.
    pub fn with_refresh_margin(
        credential: Arc<dyn TokenCredential>,
        scope: impl Into<String>,
        margin: Duration,
    ) -> Self {
        Self {
            cache: Arc::new(TokenCache {
                credential,
                scope: scope.into(),
                margin: chrono::Duration::from_std(margin).unwrap_or(chrono::Duration::MAX),
                current: Mutex::new(None),
            }),
        }
    }

    /// The scope tokens are asked for.
    pub fn scope(&self) -> &str {
        &self.cache.scope
    }

    /// A token that is valid now: the cached one, or a new one when the cached one is missing or within the refresh
    /// margin of its expiry. When a refresh fails but the cached token has not expired yet, the cached token is
    /// returned (and the failure logged), so a short outage of the identity endpoint costs nothing.
    pub async fn token(&self) -> Result<AccessToken, CredentialError> {
        self.cache.token().await
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerToken")
            .field("credential", &self.cache.credential)
            .field("scope", &self.cache.scope)
            .finish_non_exhaustive()
    }
}

impl PartialEq for BearerToken {
    /// The same credential and cache (clones of one `BearerToken`).
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.cache, &other.cache)
    }
}

impl Eq for BearerToken {}

struct TokenCache {
    credential: Arc<dyn TokenCredential>,
    scope: String,
    margin: chrono::Duration,
    /// Held across the credential call, so that concurrent callers wait for one refresh instead of each asking.
    current: Mutex<Option<AccessToken>>,
}

impl TokenCache {
    async fn token(&self) -> Result<AccessToken, CredentialError> {
        let mut current = self.current.lock().await;
        let now = Utc::now();
        if let Some(token) = current.as_ref() {
            if now + self.margin < token.expires_on {
                return Ok(token.clone());
            }
        }
        let scopes = [self.scope.as_str()];
        match self.credential.get_token(&scopes).await {
            Ok(fresh) => {
                tracing::debug!(expires_on = %fresh.expires_on, scope = %self.scope, "got a new access token");
                *current = Some(fresh.clone());
                Ok(fresh)
            }
            Err(error) => match current.as_ref() {
                Some(token) if now < token.expires_on => {
                    tracing::warn!(%error, expires_on = %token.expires_on, "token refresh failed; using the current token until it expires");
                    Ok(token.clone())
                }
                _ => Err(error),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// Hands out `token-1`, `token-2`, … each valid for `lifetime`; fails while `failing` is set.
    #[derive(Debug)]
    struct Counting {
        calls: AtomicU32,
        lifetime: chrono::Duration,
        failing: std::sync::atomic::AtomicBool,
    }

    impl TokenCredential for Counting {
        fn get_token<'a>(&'a self, scopes: &'a [&'a str]) -> BoxFuture<'a, Result<AccessToken, CredentialError>> {
            Box::pin(async move {
                assert_eq!(scopes, [DURABLE_TASK_SCHEDULER_SCOPE]);
                if self.failing.load(Ordering::SeqCst) {
                    return Err(CredentialError::new("Counting", "the identity endpoint is down"));
                }
                let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(AccessToken::new(format!("token-{n}"), Utc::now() + self.lifetime))
            })
        }
    }

    fn counting(lifetime: chrono::Duration) -> Arc<Counting> {
        Arc::new(Counting {
            calls: AtomicU32::new(0),
            lifetime,
            failing: false.into(),
        })
    }

    #[tokio::test]
    async fn a_valid_token_is_reused_and_shared_by_clones() {
        let credential = counting(chrono::Duration::hours(1));
        let bearer = BearerToken::new(credential.clone(), DURABLE_TASK_SCHEDULER_SCOPE);
        let clone = bearer.clone();
        assert_eq!(bearer.token().await.unwrap().token, "token-1");
        assert_eq!(clone.token().await.unwrap().token, "token-1");
        assert_eq!(credential.calls.load(Ordering::SeqCst), 1);
        assert_eq!(bearer, clone);
    }

    #[tokio::test]
    async fn a_token_inside_the_refresh_margin_is_replaced() {
        // Every token lives 2 minutes, less than the 5-minute margin: each call needs a new one.
        let credential = counting(chrono::Duration::minutes(2));
        let bearer = BearerToken::new(credential.clone(), DURABLE_TASK_SCHEDULER_SCOPE);
        assert_eq!(bearer.token().await.unwrap().token, "token-1");
        assert_eq!(bearer.token().await.unwrap().token, "token-2");
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_a_token_that_has_not_expired() {
        let credential = counting(chrono::Duration::minutes(2));
        let bearer = BearerToken::new(credential.clone(), DURABLE_TASK_SCHEDULER_SCOPE);
        assert_eq!(bearer.token().await.unwrap().token, "token-1");
        credential.failing.store(true, Ordering::SeqCst);
        assert_eq!(bearer.token().await.unwrap().token, "token-1");

        let expired = counting(chrono::Duration::seconds(-1));
        let bearer = BearerToken::new(expired.clone(), DURABLE_TASK_SCHEDULER_SCOPE);
        bearer.token().await.unwrap();
        expired.failing.store(true, Ordering::SeqCst);
        let error = bearer.token().await.unwrap_err();
        assert!(error.to_string().contains("identity endpoint is down"), "{error}");
    }

    #[test]
    fn debug_output_hides_the_token() {
        let token = AccessToken::new("secret-value", Utc::now());
        assert!(!format!("{token:?}").contains("secret-value"));
    }
}
