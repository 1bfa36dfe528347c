//! The handler process: starting it with the port and app settings, polling its readiness, restarting it after
//! a crash or a timeout ([`process`]), and the plain HTTP/1.1 client that talks to it ([`http_client`]).

pub mod http_client;
pub mod process;
