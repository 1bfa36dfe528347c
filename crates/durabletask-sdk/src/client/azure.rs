//! Microsoft's `azure_identity` credentials as [`TokenCredential`]s (the `azure-identity` feature), and the credential
//! each `Authentication` kind of a scheduler connection string stands for.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use azure_core::credentials::TokenCredential as AzureTokenCredential;
use azure_identity::{
    AzureCliCredential, ClientSecretCredential, DeveloperToolsCredential, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::credential::{AccessToken, CredentialError, TokenCredential};
use super::scheduler::{ConnectionStringError, SchedulerAuthentication};

/// An `azure_identity` credential (or a chain of them) used as this SDK's [`TokenCredential`].
///
/// ```no_run
/// use std::sync::Arc;
/// use durabletask_sdk::client::{AzureIdentityCredential, ClientOptions, DURABLE_TASK_SCHEDULER_SCOPE};
///
/// let credential = AzureIdentityCredential::managed_identity(Some("<client id>")).unwrap();
/// let options = ClientOptions::default()
///     .with_task_hub("orders")
///     .with_credential(Arc::new(credential), DURABLE_TASK_SCHEDULER_SCOPE);
/// ```
pub struct AzureIdentityCredential {
    sources: Vec<(&'static str, Arc<dyn AzureTokenCredential>)>,
    /// The source that worked last; tried first next time (a chain settles on the first one that works).
    preferred: AtomicUsize,
}

impl AzureIdentityCredential {
    /// Wraps one `azure_identity` (or other `azure_core`) credential; `name` appears in error messages.
    pub fn new(name: &'static str, credential: Arc<dyn AzureTokenCredential>) -> Self {
        Self::chain(vec![(name, credential)])
    }

    fn chain(sources: Vec<(&'static str, Arc<dyn AzureTokenCredential>)>) -> Self {
        Self {
            sources,
            preferred: AtomicUsize::new(0),
        }
    }

    /// The app's managed identity: system-assigned, or the user-assigned one with `client_id`.
    pub fn managed_identity(client_id: Option<&str>) -> Result<Self, CredentialError> {
        install_crypto_provider();
        let options = ManagedIdentityCredentialOptions {
            user_assigned_id: client_id.map(|id| UserAssignedId::ClientId(id.to_string())),
            ..Default::default()
        };
        let credential = ManagedIdentityCredential::new(Some(options)).map_err(failure("ManagedIdentity"))?;
        Ok(Self::new("ManagedIdentity", credential))
    }

    /// A Kubernetes workload identity; what is not given comes from `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    pub fn workload_identity(
        client_id: Option<&str>,
        tenant_id: Option<&str>,
        token_file_path: Option<&std::path::Path>,
    ) -> Result<Self, CredentialError> {
        install_crypto_provider();
        let options = WorkloadIdentityCredentialOptions {
            client_id: client_id.map(str::to_string),
            tenant_id: tenant_id.map(str::to_string),
            token_file_path: token_file_path.map(std::path::Path::to_path_buf),
            ..Default::default()
        };
        let credential = WorkloadIdentityCredential::new(Some(options)).map_err(failure("WorkloadIdentity"))?;
        Ok(Self::new("WorkloadIdentity", credential))
    }

    /// A service principal from `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`.
    pub fn environment() -> Result<Self, CredentialError> {
        install_crypto_provider();
        let variable = |name: &str| {
            std::env::var(name)
                .map_err(|_| CredentialError::new("Environment", format!("the environment variable {name} is not set")))
        };
        let tenant_id = variable("AZURE_TENANT_ID")?;
        let client_id = variable("AZURE_CLIENT_ID")?;
        let secret = variable("AZURE_CLIENT_SECRET")?;
        let credential =
            ClientSecretCredential::new(&tenant_id, client_id, secret.into(), None).map_err(failure("Environment"))?;
        Ok(Self::new("Environment", credential))
    }

    /// The account logged in with `az login`.
    pub fn azure_cli() -> Result<Self, CredentialError> {
        let credential = AzureCliCredential::new(None).map_err(failure("AzureCli"))?;
        Ok(Self::new("AzureCli", credential))
    }

    /// `DefaultAzure`: tries, in this order, a service principal from the environment, a workload identity, the
    /// managed identity, then the developer tools (Azure CLI, Azure Developer CLI); the first that hands out a token
    /// is used from then on. `azure_identity` 1.x has no `DefaultAzureCredential`, so this is the SDK's own chain,
    /// ordered as .NET's `DefaultAzureCredential` orders the same sources. The first two are skipped when their
    /// environment variables are not set.
    pub fn default_chain() -> Result<Self, CredentialError> {
        let mut sources: Vec<(&'static str, Arc<dyn AzureTokenCredential>)> = Vec::new();
        for optional in [Self::environment(), Self::workload_identity(None, None, None)] {
            match optional {
                Ok(credential) => sources.extend(credential.sources),
                Err(error) => tracing::debug!(%error, "DefaultAzure: skipping a credential"),
            }
        }
        sources.extend(Self::managed_identity(None)?.sources);
        install_crypto_provider();
        let developer_tools = DeveloperToolsCredential::new(None).map_err(failure("DeveloperTools"))?;
        sources.push(("DeveloperTools", developer_tools));
        Ok(Self::chain(sources))
    }
}

impl fmt::Debug for AzureIdentityCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.sources.iter().map(|(name, _)| *name).collect();
        f.debug_struct("AzureIdentityCredential")
            .field("sources", &names)
            .finish()
    }
}

impl TokenCredential for AzureIdentityCredential {
    fn get_token<'a>(&'a self, scopes: &'a [&'a str]) -> BoxFuture<'a, Result<AccessToken, CredentialError>> {
        Box::pin(async move {
            let first = self.preferred.load(Ordering::Relaxed);
            let order = (0..self.sources.len()).map(|i| (first + i) % self.sources.len());
            let mut failures = Vec::new();
            for index in order {
                let (name, credential) = &self.sources[index];
                match credential.get_token(scopes, None).await {
                    Ok(token) => {
                        self.preferred.store(index, Ordering::Relaxed);
                        let expires_on = DateTime::<Utc>::from_timestamp(token.expires_on.unix_timestamp(), 0)
                            .unwrap_or(DateTime::UNIX_EPOCH);
                        return Ok(AccessToken::new(token.token.secret(), expires_on));
                    }
                    Err(error) => failures.push(format!("{name}: {error}")),
                }
            }
            let names: Vec<&str> = self.sources.iter().map(|(name, _)| *name).collect();
            Err(CredentialError::new(names.join(" → "), failures.join("; ")))
        })
    }
}

/// azure_core's HTTP client (reqwest on rustls) needs a process-wide rustls crypto provider; this build links ring
/// only (as tonic's TLS does), so that one is installed unless the app installed one already.
fn install_crypto_provider() {
    // An error only means a provider is installed already, which is what is needed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn failure(name: &'static str) -> impl Fn(azure_core::Error) -> CredentialError {
    move |error| CredentialError::new(name, error.to_string()).with_source(error)
}

/// The credential an `Authentication` kind stands for (none for `None`).
pub(super) fn credential_for(
    authentication: &SchedulerAuthentication,
) -> Result<Option<Arc<dyn TokenCredential>>, ConnectionStringError> {
    let credential = match authentication {
        SchedulerAuthentication::DefaultAzure => AzureIdentityCredential::default_chain()?,
        SchedulerAuthentication::ManagedIdentity { client_id } => {
            AzureIdentityCredential::managed_identity(client_id.as_deref())?
        }
        // `AdditionallyAllowedTenants` only widens which tenants a token may be asked for; the client asks for the
        // configured tenant only, so it changes nothing here.
        SchedulerAuthentication::WorkloadIdentity {
            client_id,
            tenant_id,
            token_file_path,
            ..
        } => AzureIdentityCredential::workload_identity(
            client_id.as_deref(),
            tenant_id.as_deref(),
            token_file_path.as_deref(),
        )?,
        SchedulerAuthentication::Environment => AzureIdentityCredential::environment()?,
        SchedulerAuthentication::AzureCli => AzureIdentityCredential::azure_cli()?,
        SchedulerAuthentication::AzurePowerShell => {
            return Err(ConnectionStringError::CredentialUnavailable {
                authentication: authentication.name(),
                reason: "azure_identity 1.x has no Azure PowerShell credential (AzureCli works the same way)",
            })
        }
        SchedulerAuthentication::None => return Ok(None),
    };
    Ok(Some(Arc::new(credential)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::SchedulerConnectionString;

    fn credential(authentication: &str) -> Result<Option<crate::client::BearerToken>, ConnectionStringError> {
        SchedulerConnectionString::parse(&format!("Endpoint=https://x;TaskHub=h;Authentication={authentication}"))
            .unwrap()
            .credential()
    }

    #[test]
    fn identity_kinds_make_azure_identity_credentials() {
        // Making them does no I/O: tokens are only asked for on the first call.
        let managed = credential("ManagedIdentity;ClientID=00000000-0000-0000-0000-000000000001")
            .unwrap()
            .unwrap();
        assert_eq!(managed.scope(), "https://durabletask.io/.default");
        assert!(format!("{managed:?}").contains("ManagedIdentity"), "{managed:?}");
        let cli = credential("AzureCli").unwrap().unwrap();
        assert!(format!("{cli:?}").contains("AzureCli"), "{cli:?}");
        let chain = credential("DefaultAzure").unwrap().unwrap();
        assert!(format!("{chain:?}").contains("DeveloperTools"), "{chain:?}");
        assert!(credential("None").unwrap().is_none());
        let workload = |path: &std::path::Path| {
            credential(&format!(
                "WorkloadIdentity;ClientID=00000000-0000-0000-0000-000000000001;\
                 TenantId=00000000-0000-0000-0000-000000000002;TokenFilePath={}",
                path.display()
            ))
        };
        let directory = tempfile::tempdir().unwrap();
        let token_file = directory.path().join("azure-identity-token");
        let error = workload(&token_file).unwrap_err();
        assert!(error.to_string().contains("failed to read federated token"), "{error}");
        std::fs::write(&token_file, "federated-token").unwrap();
        let made = workload(&token_file).unwrap().unwrap();
        assert!(format!("{made:?}").contains("WorkloadIdentity"), "{made:?}");
    }

    #[test]
    fn kinds_azure_identity_lacks_are_refused_by_name() {
        let error = credential("AzurePowerShell").unwrap_err();
        assert!(error.to_string().contains("no Azure PowerShell credential"), "{error}");
    }

    #[tokio::test]
    async fn a_chain_reports_every_source_that_failed() {
        #[derive(Debug)]
        struct Failing;
        #[async_trait::async_trait]
        impl AzureTokenCredential for Failing {
            async fn get_token(
                &self,
                _scopes: &[&str],
                _options: Option<azure_core::credentials::TokenRequestOptions<'_>>,
            ) -> azure_core::Result<azure_core::credentials::AccessToken> {
                Err(azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Credential,
                    "no identity here",
                ))
            }
        }
        let chain = AzureIdentityCredential::chain(vec![("First", Arc::new(Failing)), ("Second", Arc::new(Failing))]);
        let error = chain.get_token(&["scope"]).await.unwrap_err();
        assert_eq!(error.credential, "First → Second");
        assert!(
            error
                .message
                .contains("First: no identity here; Second: no identity here"),
            "{error}"
        );
    }
}
