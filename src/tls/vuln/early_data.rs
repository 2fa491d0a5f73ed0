//! TLS 1.3 early data (0-RTT): a first handshake (rustls) collects the server's session ticket;
//! a second one resumes with it and offers early data (the `early_data` extension) without
//! sending any application bytes. A server whose EncryptedExtensions accept it would process
//! 0-RTT data, which an attacker can replay (RFC 8446 §8).
//!
//! Cost: two connections when TLS 1.3 is accepted (one if the first handshake fails); none
//! otherwise.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Resumption, Tls12ClientSessionValue, Tls13ClientSessionValue,
};
use rustls::pki_types::ServerName;
use rustls::NamedGroup;
use tokio::io::AsyncReadExt;
use tokio::sync::Notify;

use super::VulnerabilityFact;
use crate::net::{Connector, NetError};
use crate::tls::rustls_probe::RecordingVerifier;
use crate::tls::sweep::SweepTarget;

/// The longest postura reads after the first handshake for the server's NewSessionTicket
/// (servers send it right after the handshake; the read ends as soon as one is stored).
const TICKET_WAIT: Duration = Duration::from_secs(3);

/// An in-memory ticket store that says when a TLS 1.3 ticket arrives, and the largest early
/// data size the tickets allowed.
#[derive(Debug)]
struct TicketWatch {
    inner: ClientSessionMemoryCache,
    arrived: Notify,
    max_early_data: AtomicU32,
}

impl ClientSessionStore for TicketWatch {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.inner.set_kx_hint(server_name, group)
    }
    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.inner.kx_hint(server_name)
    }
    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.inner.set_tls12_session(server_name, value)
    }
    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.inner.tls12_session(server_name)
    }
    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.inner.remove_tls12_session(server_name)
    }
    fn insert_tls13_ticket(&self, server_name: ServerName<'static>, value: Tls13ClientSessionValue) {
        self.max_early_data.fetch_max(value.max_early_data_size(), Ordering::Relaxed);
        self.inner.insert_tls13_ticket(server_name, value);
        self.arrived.notify_one();
    }
    fn take_tls13_ticket(&self, server_name: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        self.inner.take_tls13_ticket(server_name)
    }
}

pub async fn probe(target: &SweepTarget) -> VulnerabilityFact {
    let tickets = Arc::new(TicketWatch {
        inner: ClientSessionMemoryCache::new(4),
        arrived: Notify::new(),
        max_early_data: AtomicU32::new(0),
    });
    let config = match client_config(target.sni.is_some(), tickets.clone()) {
        Ok(config) => Arc::new(config),
        Err(error) => return VulnerabilityFact::unknown(error),
    };
    let server_name = match &target.sni {
        Some(name) => match ServerName::try_from(name.clone()) {
            Ok(name) => name,
            Err(error) => return VulnerabilityFact::unknown(format!("bad server name: {error}")),
        },
        None => ServerName::IpAddress(target.connector.address.ip().into()),
    };
    let mut fact = VulnerabilityFact::default();
    let first = handshake(&target.connector, config.clone(), server_name.clone(), Some(&tickets.arrived)).await;
    fact.connections += 1;
    if let Err(error) = first {
        return VulnerabilityFact { connections: 1, ..VulnerabilityFact::unknown(format!("first handshake: {error}")) };
    }
    let max_early_data = tickets.max_early_data.load(Ordering::Relaxed);
    fact.evidence.push(format!("the server's tickets allow {max_early_data} bytes of early data"));
    fact.connections += 1;
    match handshake(&target.connector, config, server_name, None).await {
        Ok(Outcome { early_data_accepted: true, .. }) => {
            fact.vulnerable = Some(true);
            fact.evidence
                .insert(0, "a resumed TLS 1.3 handshake offering early data was accepted with early data".into());
        }
        Ok(Outcome { resumed: true, .. }) => {
            fact.vulnerable = Some(false);
            fact.evidence.push("the session was resumed without early data".into());
        }
        Ok(Outcome { resumed: false, .. }) => {
            fact.vulnerable = Some(false);
            fact.evidence.push("no resumable ticket (or it was refused): 0-RTT impossible".into());
        }
        Err(error) => {
            fact.vulnerable = None;
            fact.evidence.push(format!("resumed handshake: {error}"));
        }
    }
    fact
}

fn client_config(sni: bool, tickets: Arc<TicketWatch>) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(RecordingVerifier::new(&provider));
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?;
    let mut config = builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth();
    config.enable_sni = sni;
    config.enable_early_data = true;
    // The two handshakes share this config's in-memory ticket store.
    config.resumption = Resumption::store(tickets);
    Ok(config)
}

struct Outcome {
    resumed: bool,
    early_data_accepted: bool,
}

async fn handshake(
    connector: &Connector,
    config: Arc<rustls::ClientConfig>,
    server_name: ServerName<'static>,
    ticket_arrived: Option<&Notify>,
) -> Result<Outcome, NetError> {
    let connection = connector.connect().await?;
    let (stream, expires, deadline_bound, _permit) = connection.into_parts();
    let tls = tokio_rustls::TlsConnector::from(config);
    let mut stream = match tokio::time::timeout_at(expires, tls.connect(server_name, stream)).await {
        Err(_) if deadline_bound => return Err(NetError::Deadline),
        Err(_) => return Err(NetError::Timeout),
        Ok(Err(error)) => return Err(NetError::Protocol(error.to_string())),
        Ok(Ok(stream)) => stream,
    };
    if let Some(arrived) = ticket_arrived {
        // Reading processes the post-handshake NewSessionTicket messages; no application data
        // is expected (a server that sends some has it discarded, within a small buffer).
        let until = (tokio::time::Instant::now() + TICKET_WAIT).min(expires);
        let mut discard = [0u8; 1024];
        let read_until_ticket = async {
            tokio::select! {
                _ = stream.read(&mut discard) => {}
                _ = arrived.notified() => {}
            }
        };
        let _ = tokio::time::timeout_at(until, read_until_ticket).await;
    }
    let (_, session) = stream.get_ref();
    Ok(Outcome {
        resumed: session.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
        early_data_accepted: session.is_early_data_accepted(),
    })
}
