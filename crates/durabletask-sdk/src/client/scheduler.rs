//! The Durable Task Scheduler's connection string, `Endpoint=…;Authentication=…;TaskHub=…`, as the official SDKs
//! read it, and what it means for a client's options.
//!
//! Keys are matched without regard to case, values are trimmed, empty segments are skipped and unknown keys are
//! ignored (the official SDKs add keys over time). `Authentication` takes the kinds the official SDKs accept, also
//! without regard to case or spaces: `DefaultAzure`, `ManagedIdentity` (with an optional `ClientID` for a
//! user-assigned identity), `WorkloadIdentity` (optional `ClientID`, `TenantId`, `TokenFilePath`,
//! `AdditionallyAllowedTenants`), `Environment`, `AzureCli`, `AzurePowerShell` and `None` (the local emulator).
//! Every kind but `None` needs a token credential: with the `azure-identity` feature it is made from Microsoft's
//! `azure_identity` crate; without it, pass one of your own with [`ClientOptions::with_credential`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::credential::{BearerToken, CredentialError, TokenCredential};
use super::ClientOptions;

/// The token audience of the Durable Task Scheduler when the connection string names none.
pub const DEFAULT_SCHEDULER_RESOURCE_ID: &str = "https://durabletask.io";

/// How a client proves who it is to the Durable Task Scheduler (the connection string's `Authentication`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchedulerAuthentication {
    /// `DefaultAzure`: the first of several credentials that works (see
    /// `AzureIdentityCredential::default_chain` with the `azure-identity` feature).
    DefaultAzure,
    /// `ManagedIdentity`: the app's system-assigned identity, or the user-assigned one with this client id.
    ManagedIdentity {
        /// `ClientID`: a user-assigned identity's client id.
        client_id: Option<String>,
    },
    /// `WorkloadIdentity`: a Kubernetes workload identity (federated token file).
    WorkloadIdentity {
        /// `ClientID` (default: the `AZURE_CLIENT_ID` environment variable).
        client_id: Option<String>,
        /// `TenantId` (default: `AZURE_TENANT_ID`).
        tenant_id: Option<String>,
        /// `TokenFilePath` (default: `AZURE_FEDERATED_TOKEN_FILE`).
        token_file_path: Option<PathBuf>,
        /// `AdditionallyAllowedTenants`, comma-separated in the connection string.
        additionally_allowed_tenants: Vec<String>,
    },
    /// `Environment`: a service principal from `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`.
    Environment,
    /// `AzureCli`: the account logged in with `az login`.
    AzureCli,
    /// `AzurePowerShell`: the account logged in to Azure PowerShell.
    AzurePowerShell,
    /// `None`: no token (the local emulator).
    None,
}

impl SchedulerAuthentication {
    /// The name used in connection strings.
    pub fn name(&self) -> &'static str {
        match self {
            SchedulerAuthentication::DefaultAzure => "DefaultAzure",
            SchedulerAuthentication::ManagedIdentity { .. } => "ManagedIdentity",
            SchedulerAuthentication::WorkloadIdentity { .. } => "WorkloadIdentity",
            SchedulerAuthentication::Environment => "Environment",
            SchedulerAuthentication::AzureCli => "AzureCli",
            SchedulerAuthentication::AzurePowerShell => "AzurePowerShell",
            SchedulerAuthentication::None => "None",
        }
    }
}

/// Why a connection string cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionStringError {
    /// Nothing was given.
    #[error("the connection string is empty")]
    Empty,
    /// A segment is not `key=value`.
    #[error("the connection string segment '{segment}' is not of the form key=value")]
    Malformed {
        /// The offending segment (without its value, which may be a secret).
        segment: String,
    },
    /// A key appears twice with different values.
    #[error("the connection string names {key} twice")]
    Duplicate {
        /// The repeated key.
        key: String,
    },
    /// A required key is missing or empty.
    #[error("the connection string must contain a non-empty {key} (Endpoint=…;Authentication=…;TaskHub=…)")]
    Missing {
        /// The missing key.
        key: &'static str,
    },
    /// `Authentication` names a kind this SDK does not know.
    #[error(
        "the connection string's Authentication '{value}' is not supported; use one of DefaultAzure, ManagedIdentity, \
         WorkloadIdentity, Environment, AzureCli, AzurePowerShell or None"
    )]
    UnsupportedAuthentication {
        /// The value given.
        value: String,
    },
    /// A key this SDK reads but cannot honour.
    #[error("the connection string's {key} is not supported by this SDK ({reason})")]
    UnsupportedKey {
        /// The key.
        key: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The authentication kind needs a credential this build cannot make.
    #[error(
        "Authentication={authentication} cannot be used: {reason}; pass a credential of your own with \
         `ClientOptions::with_credential`"
    )]
    CredentialUnavailable {
        /// The kind asked for.
        authentication: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The credential could not be created.
    #[error(transparent)]
    Credential(#[from] CredentialError),
}

/// A parsed Durable Task Scheduler connection string.
///
/// ```
/// use durabletask_sdk::client::{SchedulerAuthentication, SchedulerConnectionString};
///
/// let connection = SchedulerConnectionString::parse(
///     "Endpoint=https://myscheduler.westus2.durabletask.io;Authentication=ManagedIdentity;ClientID=00000000-0000-0000-0000-000000000001;TaskHub=orders",
/// )
/// .unwrap();
/// assert_eq!(connection.task_hub, "orders");
/// assert_eq!(
///     connection.authentication,
///     SchedulerAuthentication::ManagedIdentity { client_id: Some("00000000-0000-0000-0000-000000000001".into()) }
/// );
/// assert_eq!(connection.token_scope(), "https://durabletask.io/.default");
///
/// let emulator = SchedulerConnectionString::parse("Endpoint=http://localhost:8080;Authentication=None;TaskHub=default").unwrap();
/// assert_eq!(emulator.endpoint_url(), "http://localhost:8080");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerConnectionString {
    /// `Endpoint`: the scheduler's URL (`https://` is assumed without a scheme, as the official SDKs do).
    pub endpoint: String,
    /// `TaskHub`: the task hub, sent as the `taskhub` gRPC header.
    pub task_hub: String,
    /// `Authentication` and its companion keys.
    pub authentication: SchedulerAuthentication,
    /// `ResourceId`: the token audience ([`DEFAULT_SCHEDULER_RESOURCE_ID`] when absent).
    pub resource_id: Option<String>,
}

impl SchedulerConnectionString {
    /// Parses `Endpoint=…;Authentication=…;TaskHub=…` with its optional keys.
    pub fn parse(connection_string: &str) -> Result<Self, ConnectionStringError> {
        let mut values = parse_pairs(connection_string)?;
        let mut take = |key: &'static str| {
            values
                .remove(&key.to_ascii_lowercase())
                .filter(|value| !value.is_empty())
        };
        let endpoint = take("Endpoint").ok_or(ConnectionStringError::Missing { key: "Endpoint" })?;
        let task_hub = take("TaskHub").ok_or(ConnectionStringError::Missing { key: "TaskHub" })?;
        let kind = take("Authentication").ok_or(ConnectionStringError::Missing { key: "Authentication" })?;
        let client_id = take("ClientID");
        let tenant_id = take("TenantId");
        let token_file_path = take("TokenFilePath").map(PathBuf::from);
        let additionally_allowed_tenants: Vec<String> = take("AdditionallyAllowedTenants")
            .map(|tenants| {
                tenants
                    .split(',')
                    .map(str::trim)
                    .filter(|tenant| !tenant.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let resource_id = take("ResourceId").map(|id| id.trim_end_matches('/').to_string());
        if take("AuthorityHost").is_some() {
            return Err(ConnectionStringError::UnsupportedKey {
                key: "AuthorityHost",
                reason: "only the public Azure cloud's authority is used",
            });
        }
        let authentication = match kind.to_ascii_lowercase().replace(' ', "").as_str() {
            "defaultazure" => SchedulerAuthentication::DefaultAzure,
            "managedidentity" => SchedulerAuthentication::ManagedIdentity { client_id },
            "workloadidentity" => SchedulerAuthentication::WorkloadIdentity {
                client_id,
                tenant_id,
                token_file_path,
                additionally_allowed_tenants,
            },
            "environment" => SchedulerAuthentication::Environment,
            "azurecli" => SchedulerAuthentication::AzureCli,
            "azurepowershell" => SchedulerAuthentication::AzurePowerShell,
            "none" => SchedulerAuthentication::None,
            _ => return Err(ConnectionStringError::UnsupportedAuthentication { value: kind }),
        };
        Ok(Self {
            endpoint,
            task_hub,
            authentication,
            resource_id,
        })
    }

    /// The endpoint with a scheme: `https://` is assumed when the connection string gives none.
    pub fn endpoint_url(&self) -> String {
        if self.endpoint.contains("://") {
            self.endpoint.clone()
        } else {
            format!("https://{}", self.endpoint)
        }
    }

    /// The scope tokens are asked for: `<ResourceId>/.default`.
    pub fn token_scope(&self) -> String {
        format!(
            "{}/.default",
            self.resource_id.as_deref().unwrap_or(DEFAULT_SCHEDULER_RESOURCE_ID)
        )
    }

    /// `options` addressing this connection string's task hub, with its credential (none for
    /// `Authentication=None`). A credential already set on `options` is kept, so an app can bring its own.
    pub fn apply_to(&self, options: ClientOptions) -> Result<ClientOptions, ConnectionStringError> {
        let mut options = options.with_task_hub(self.task_hub.clone());
        if options.bearer.is_none() {
            options.bearer = self.credential()?;
        }
        Ok(options)
    }

    /// The token credential `Authentication` asks for, with its scope; `None` for `Authentication=None`.
    pub fn credential(&self) -> Result<Option<BearerToken>, ConnectionStringError> {
        let credential = make_credential(&self.authentication)?;
        Ok(credential.map(|credential| BearerToken::new(credential, self.token_scope())))
    }
}

#[cfg(feature = "azure-identity")]
fn make_credential(
    authentication: &SchedulerAuthentication,
) -> Result<Option<Arc<dyn TokenCredential>>, ConnectionStringError> {
    super::azure::credential_for(authentication)
}

#[cfg(not(feature = "azure-identity"))]
fn make_credential(
    authentication: &SchedulerAuthentication,
) -> Result<Option<Arc<dyn TokenCredential>>, ConnectionStringError> {
    match authentication {
        SchedulerAuthentication::None => Ok(None),
        _ => Err(ConnectionStringError::CredentialUnavailable {
            authentication: authentication.name(),
            reason: "this build of durabletask-sdk has no `azure-identity` feature",
        }),
    }
}

/// The `key=value` pairs, keys lowercased.
fn parse_pairs(connection_string: &str) -> Result<HashMap<String, String>, ConnectionStringError> {
    if connection_string.trim().is_empty() {
        return Err(ConnectionStringError::Empty);
    }
    let mut values = HashMap::new();
    for segment in connection_string.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((key, value)) = segment.split_once('=') else {
            return Err(ConnectionStringError::Malformed {
                segment: segment.chars().take(64).collect(),
            });
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(ConnectionStringError::Malformed {
                segment: "=…".to_string(),
            });
        }
        let value = value.trim().to_string();
        match values.insert(key.to_ascii_lowercase(), value.clone()) {
            Some(previous) if previous != value => {
                return Err(ConnectionStringError::Duplicate { key: key.to_string() })
            }
            _ => {}
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive_and_values_trimmed() {
        let parsed = SchedulerConnectionString::parse(
            " endpoint = myscheduler.durabletask.io ; TASKHUB=hub;authentication= Workload Identity ;ClientId=c;\
             TenantId=t;TokenFilePath=/var/token;AdditionallyAllowedTenants=a, b,;Unknown=ignored;",
        )
        .unwrap();
        assert_eq!(parsed.endpoint_url(), "https://myscheduler.durabletask.io");
        assert_eq!(parsed.task_hub, "hub");
        assert_eq!(
            parsed.authentication,
            SchedulerAuthentication::WorkloadIdentity {
                client_id: Some("c".into()),
                tenant_id: Some("t".into()),
                token_file_path: Some(PathBuf::from("/var/token")),
                additionally_allowed_tenants: vec!["a".into(), "b".into()],
            }
        );
    }

    #[test]
    fn every_official_authentication_kind_is_read() {
        for (value, name) in [
            ("DefaultAzure", "DefaultAzure"),
            ("managedidentity", "ManagedIdentity"),
            ("AzureCLI", "AzureCli"),
            ("Azure PowerShell", "AzurePowerShell"),
            ("environment", "Environment"),
            ("NONE", "None"),
        ] {
            let parsed =
                SchedulerConnectionString::parse(&format!("Endpoint=https://x;TaskHub=h;Authentication={value}"))
                    .unwrap();
            assert_eq!(parsed.authentication.name(), name);
        }
    }

    #[test]
    fn bad_connection_strings_name_the_problem() {
        let cases = [
            ("", "empty"),
            ("Endpoint=https://x;TaskHub=h", "non-empty Authentication"),
            ("Endpoint=https://x;Authentication=None", "non-empty TaskHub"),
            ("Endpoint=;Authentication=None;TaskHub=h", "non-empty Endpoint"),
            (
                "Endpoint=https://x;Authentication=Kerberos;TaskHub=h",
                "'Kerberos' is not supported",
            ),
            (
                "Endpoint=https://x;Authentication=None;TaskHub=h;oops",
                "'oops' is not of the form",
            ),
            (
                "Endpoint=https://x;Authentication=None;TaskHub=a;taskhub=b",
                "names taskhub twice",
            ),
            (
                "Endpoint=https://x;Authentication=None;TaskHub=h;AuthorityHost=https://login.microsoftonline.us/",
                "AuthorityHost is not supported",
            ),
        ];
        for (input, expected) in cases {
            let error = SchedulerConnectionString::parse(input).unwrap_err();
            assert!(error.to_string().contains(expected), "{input}: {error}");
        }
    }

    #[test]
    fn the_resource_id_sets_the_token_scope() {
        let parsed = SchedulerConnectionString::parse(
            "Endpoint=https://x;Authentication=None;TaskHub=h;ResourceId=https://other.io/",
        )
        .unwrap();
        assert_eq!(parsed.token_scope(), "https://other.io/.default");
    }

    #[test]
    fn no_authentication_means_no_credential() {
        let parsed =
            SchedulerConnectionString::parse("Endpoint=http://localhost:8080;Authentication=None;TaskHub=default")
                .unwrap();
        let options = parsed.apply_to(ClientOptions::default()).unwrap();
        assert_eq!(options.task_hub.as_deref(), Some("default"));
        assert!(options.bearer.is_none());
    }

    #[cfg(not(feature = "azure-identity"))]
    #[test]
    fn identity_kinds_need_the_feature_or_a_credential_of_ones_own() {
        let parsed =
            SchedulerConnectionString::parse("Endpoint=https://x;Authentication=ManagedIdentity;TaskHub=h").unwrap();
        let error = parsed.apply_to(ClientOptions::default()).unwrap_err();
        assert!(error.to_string().contains("`azure-identity` feature"), "{error}");
    }
}
