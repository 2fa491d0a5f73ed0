//! TLS probing: the raw codec, the suite registry, and the sweep built on them.

pub mod client_auth;
pub mod clients;
pub mod codec;
pub mod derived;
pub mod exchange;
pub mod hello;
pub mod plausibility;
pub mod registry;
pub mod rustls_probe;
pub mod sweep;
pub mod vuln;
