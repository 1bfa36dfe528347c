//! The local durable engine for tests: `scripts/local_engine.py` in the project's virtualenv, started with
//! local-host's [`EngineLauncher`] (the one place that knows how), on a free loopback port, stopped when dropped.
//!
//! Tests do not set the virtualenv up themselves (`scripts/test.sh` does, with `scripts/setup-venv.sh`): when it is
//! missing, the test stops with a message naming the missing interpreter and the command that creates it.

use std::path::Path;
use std::time::Duration;

use durabletask_sdk::client::{ClientOptions, DurableClient};
use local_host::engine::{EngineError, EngineLauncher};

use crate::workspace_root;

/// The deadline of the test clients' unary calls.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The launcher of this workspace's engine, after checking that the virtualenv and the script exist; panics with
/// what is missing and how to get it otherwise.
pub fn launcher() -> EngineLauncher {
    let mut launcher = EngineLauncher::for_project(&workspace_root());
    // Tests never install anything themselves.
    launcher.setup_script = None;
    require(&launcher.python, "the Python virtualenv with the local durable engine");
    require(&launcher.script, "the local engine launcher script");
    launcher
}

fn require(path: &Path, what: &str) {
    assert!(
        path.exists(),
        "{what} is missing: {} does not exist. Run `bash scripts/setup-venv.sh` in {} (it creates .venv with \
         durabletask==1.12.0 and grpcio from PyPI; set DURABLE_VENV to use another virtualenv), or run every test \
         with `bash scripts/test.sh`, which does that first.",
        path.display(),
        workspace_root().display()
    );
}

/// A running local engine; stopped when dropped.
#[derive(Debug)]
pub struct LocalEngine {
    engine: local_host::LocalEngine,
}

impl LocalEngine {
    /// Starts an engine on a free port; panics with the reason when it cannot.
    pub async fn start() -> Self {
        match launcher().start().await {
            Ok(engine) => Self { engine },
            Err(error) => panic!("the local engine did not start: {error}"),
        }
    }

    /// Starts an engine on `port` (0: any free port); `None` when it cannot listen there (the port is taken).
    pub async fn start_on(port: u16) -> Option<Self> {
        match launcher().start_on(port).await {
            Ok(engine) => Some(Self { engine }),
            Err(EngineError::Startup { .. }) => None,
            Err(error) => panic!("the local engine did not start: {error}"),
        }
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.engine.port()
    }

    /// Its gRPC endpoint, as a `durableClient` binding's `rpcBaseUrl` names it.
    pub fn url(&self) -> String {
        self.engine.address()
    }

    /// A client of the engine with a 10 s call deadline (connects lazily; call within a Tokio runtime).
    pub fn client(&self) -> DurableClient {
        DurableClient::connect_lazy(&self.url(), ClientOptions::default().with_call_timeout(CALL_TIMEOUT))
            .expect("a valid endpoint")
    }
}

/// An engine endpoint nobody listens on: a port the OS just handed out and took back.
pub fn closed_endpoint() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// A port nothing listens on (the OS just handed it out and it was released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("a bound address").port()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_virtualenv_is_named_with_the_command_that_creates_it() {
        // This test binary starts no engine, so changing the variable affects nothing else.
        std::env::set_var("DURABLE_VENV", "/nonexistent/test-support-venv");
        let panic = std::panic::catch_unwind(launcher).expect_err("no virtualenv, no launcher");
        std::env::remove_var("DURABLE_VENV");
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            message.starts_with(
                "the Python virtualenv with the local durable engine is missing: \
                 /nonexistent/test-support-venv/bin/python does not exist. Run `bash scripts/setup-venv.sh`"
            ),
            "{message}"
        );
    }
}
