//! A real TLS 1.3 handshake with rustls, as a modern client performs it. Its chain is encrypted,
//! so this is how the TLS 1.3 chain and stapled OCSP response are seen. The verifier records what
//! the server presented and accepts it: judging the chain is the certificate stage's job.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::facts::Tls13Handshake;
use crate::net::{Connector, NetError};

/// What the handshake delivered.
pub struct Tls13Probe {
    pub summary: Tls13Handshake,
    pub chain: Vec<Vec<u8>>,
    pub ocsp: Option<Vec<u8>>,
}

#[derive(Debug, Default)]
struct Presented {
    chain: Vec<Vec<u8>>,
    ocsp: Vec<u8>,
}

/// Accepts any chain and remembers what was presented: probes read facts over TLS, and the
/// certificate stage judges the chain separately.
#[derive(Debug)]
pub struct RecordingVerifier {
    presented: Mutex<Presented>,
    schemes: Vec<SignatureScheme>,
}

impl RecordingVerifier {
    pub fn new(provider: &rustls::crypto::CryptoProvider) -> RecordingVerifier {
        RecordingVerifier {
            presented: Mutex::new(Presented::default()),
            schemes: provider.signature_verification_algorithms.supported_schemes(),
        }
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut presented) = self.presented.lock() {
            presented.chain = std::iter::once(end_entity).chain(intermediates).map(|c| c.as_ref().to_vec()).collect();
            presented.ocsp = ocsp_response.to_vec();
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

fn failed(error: String) -> Tls13Probe {
    Tls13Probe {
        summary: Tls13Handshake {
            source: crate::facts::Tls13HandshakeSource::Rustls,
            completed: false,
            error: Some(error),
            cipher_suite: None,
            group: None,
            alpn: None,
            ocsp_stapled: false,
            chain_length: 0,
        },
        chain: Vec::new(),
        ocsp: None,
    }
}

pub async fn handshake(connector: &Connector, sni: Option<&str>) -> Tls13Probe {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(RecordingVerifier::new(&provider));
    let config = match rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
    {
        Ok(builder) => builder,
        Err(error) => return failed(error.to_string()),
    };
    let mut config = config.dangerous().with_custom_certificate_verifier(verifier.clone()).with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.enable_sni = sni.is_some();

    let server_name = match sni {
        Some(name) => match ServerName::try_from(name.to_string()) {
            Ok(name) => name,
            Err(error) => return failed(format!("bad server name: {error}")),
        },
        None => ServerName::IpAddress(connector.address.ip().into()),
    };
    let connection = match connector.connect().await {
        Ok(connection) => connection,
        Err(error) => return failed(error.to_string()),
    };
    let (stream, expires, deadline_bound, _permit) = connection.into_parts();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = match tokio::time::timeout_at(expires, tls.connect(server_name, stream)).await {
        Err(_) if deadline_bound => return failed(NetError::Deadline.to_string()),
        Err(_) => return failed(NetError::Timeout.to_string()),
        Ok(Err(error)) => return failed(error.to_string()),
        Ok(Ok(stream)) => stream,
    };
    let (_, session) = stream.get_ref();
    let presented = match verifier.presented.lock() {
        Ok(mut presented) => std::mem::take(&mut *presented),
        Err(_) => Presented::default(),
    };
    let ocsp = (!presented.ocsp.is_empty()).then(|| presented.ocsp.clone());
    Tls13Probe {
        summary: Tls13Handshake {
            source: crate::facts::Tls13HandshakeSource::Rustls,
            completed: true,
            error: None,
            cipher_suite: session
                .negotiated_cipher_suite()
                .map(|s| crate::tls::registry::registry().name(u32::from(u16::from(s.suite())))),
            group: session
                .negotiated_key_exchange_group()
                .map(|g| crate::tls::registry::group_name(u16::from(g.name()))),
            alpn: session.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned()),
            ocsp_stapled: ocsp.is_some(),
            chain_length: presented.chain.len(),
        },
        chain: presented.chain,
        ocsp,
    }
}
