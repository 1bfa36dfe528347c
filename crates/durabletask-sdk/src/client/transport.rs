//! How a client reaches its engine: the endpoint (plain HTTP/2, or TLS with the `tls` feature) and the
//! [`Transport`] that puts a fresh bearer token on every call when a credential is configured.

use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use tonic::body::Body;
use tonic::codegen::http::{self, header::AUTHORIZATION, HeaderValue};
use tonic::codegen::Service;
use tonic::transport::{Channel, Endpoint};
use tonic::Status;

use super::credential::BearerToken;
use super::{ClientError, ClientOptions};

/// TLS settings of a client. TLS itself is chosen by the endpoint's scheme: `https://` endpoints use TLS (with the
/// `tls` cargo feature), `http://` ones do not. The server certificate is checked against the operating system's
/// trusted roots plus [`ca_certificates_pem`](Self::ca_certificates_pem).
///
/// ```
/// use durabletask_sdk::client::{ClientOptions, TlsOptions};
///
/// let private_ca = b"-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n".to_vec();
/// let options = ClientOptions::default().with_tls(TlsOptions::default().with_ca_certificate_pem(private_ca));
/// assert_eq!(options.tls.ca_certificates_pem.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Further certificate authorities to trust (PEM), for engines behind a private CA or a self-signed
    /// certificate.
    pub ca_certificates_pem: Vec<Vec<u8>>,
    /// The name the server certificate must carry, when it differs from the endpoint's host.
    pub domain_name: Option<String>,
}

impl TlsOptions {
    /// Also trusts the certificate authority in `pem`.
    pub fn with_ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_certificates_pem.push(pem.into());
        self
    }

    /// Checks the server certificate against `domain_name` instead of the endpoint's host.
    pub fn with_domain_name(mut self, domain_name: impl Into<String>) -> Self {
        self.domain_name = Some(domain_name.into());
        self
    }

    fn is_default(&self) -> bool {
        self.ca_certificates_pem.is_empty() && self.domain_name.is_none()
    }
}

/// The endpoint for `url` (`http://` assumed when no scheme is given), with the options' timeouts and TLS.
pub(super) fn endpoint_for(url: &str, options: &ClientOptions) -> Result<Endpoint, ClientError> {
    let url = url.trim();
    let url = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let invalid = |message: String| ClientError::InvalidConfig { message };
    let endpoint = Endpoint::from_shared(url.clone())
        .map_err(|error| invalid(format!("'{url}' is not a valid endpoint URL: {error}")))?;
    let secure = endpoint.uri().scheme_str() == Some("https");
    if !secure && !options.tls.is_default() {
        return Err(invalid(format!(
            "TLS options are set but the endpoint '{url}' is not https://"
        )));
    }
    if !secure && options.bearer.is_some() && !options.allow_insecure_credentials {
        return Err(invalid(format!(
            "a credential is configured but the endpoint '{url}' is not https://: its tokens would travel in clear \
             text (allow it for local tests with `allow_insecure_credentials`)"
        )));
    }
    let endpoint = endpoint.connect_timeout(options.connect_timeout).tcp_nodelay(true);
    if secure {
        tls_endpoint(endpoint, &url, &options.tls)
    } else {
        Ok(endpoint)
    }
}

#[cfg(feature = "tls")]
fn tls_endpoint(endpoint: Endpoint, url: &str, tls: &TlsOptions) -> Result<Endpoint, ClientError> {
    use tonic::transport::{Certificate, ClientTlsConfig};

    let mut config = ClientTlsConfig::new().with_native_roots();
    for pem in &tls.ca_certificates_pem {
        config = config.ca_certificate(Certificate::from_pem(pem));
    }
    if let Some(domain_name) = &tls.domain_name {
        config = config.domain_name(domain_name.clone());
    }
    endpoint.tls_config(config).map_err(|error| ClientError::InvalidConfig {
        message: format!("cannot set up TLS for '{url}': {error}"),
    })
}

#[cfg(not(feature = "tls"))]
fn tls_endpoint(_endpoint: Endpoint, url: &str, _tls: &TlsOptions) -> Result<Endpoint, ClientError> {
    Err(ClientError::InvalidConfig {
        message: format!("'{url}' needs TLS: build durabletask-sdk with the `tls` feature"),
    })
}

/// The channel every call of a [`DurableClient`](super::DurableClient) goes through: a tonic [`Channel`] that,
/// when a credential is configured, first adds `Authorization: Bearer <token>` (a cached token, refreshed before it
/// expires).
#[derive(Debug, Clone)]
pub struct Transport {
    channel: Channel,
    bearer: Option<BearerToken>,
    token_timeout: Duration,
}

impl Transport {
    /// Calls over `channel`, authorised with the options' credential (if any). Getting a token may take up to the
    /// options' call deadline.
    pub(super) fn new(channel: Channel, options: &ClientOptions) -> Self {
        Self {
            channel,
            bearer: options.bearer.clone(),
            token_timeout: options.call_timeout,
        }
    }
}

impl Service<http::Request<Body>> for Transport {
    type Response = http::Response<Body>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.channel.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let Some(bearer) = self.bearer.clone() else {
            let response = self.channel.call(request);
            return Box::pin(async move { response.await.map_err(Into::into) });
        };
        // The channel that was polled ready makes the call; a fresh clone takes its place (tower's usual pattern).
        let fresh = self.channel.clone();
        let mut ready = std::mem::replace(&mut self.channel, fresh);
        let token_timeout = self.token_timeout;
        Box::pin(async move {
            let header = match tokio::time::timeout(token_timeout, bearer.token()).await {
                Ok(Ok(token)) => bearer_header(&token.token)?,
                // tonic turns a `Status` error of the transport into the call's status.
                Ok(Err(error)) => return Err(Status::unauthenticated(format!("no access token: {error}")).into()),
                Err(_) => {
                    return Err(Status::unavailable(format!(
                        "no access token for '{}' within {token_timeout:?}",
                        bearer.scope()
                    ))
                    .into())
                }
            };
            request.headers_mut().insert(AUTHORIZATION, header);
            ready.call(request).await.map_err(Into::into)
        })
    }
}

fn bearer_header(token: &str) -> Result<HeaderValue, Status> {
    let mut value = HeaderValue::try_from(format!("Bearer {token}"))
        .map_err(|_| Status::unauthenticated("the credential returned a token that is not a valid header value"))?;
    value.set_sensitive(true);
    Ok(value)
}
