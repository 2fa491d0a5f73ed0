//! The ClientHellos the sweep sends, per protocol, and how an answer is classified.

use crate::facts::Refusal;
use crate::net::NetError;
use crate::tls::codec::{alert_description, ClientExtension, ClientHello};
use crate::tls::exchange::ServerFlight;
use crate::tls::registry::{generator_key_share, Protocol, NAMED_GROUPS, SIGNATURE_SCHEMES};

/// At most this many suites in one hello: some servers fail on longer lists.
pub const MAX_SUITES_PER_HELLO: usize = 128;

/// RFC 5746 signalling suite: "I support secure renegotiation" without the extension (SSLv3).
pub const EMPTY_RENEGOTIATION_INFO_SCSV: u16 = 0x00FF;
/// RFC 7507 signalling suite: "this is a fallback connection".
pub const FALLBACK_SCSV: u16 = 0x5600;

pub const ALPN_H2: &[u8] = b"h2";
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// What to put in one hello beyond the protocol and suites.
#[derive(Debug, Clone)]
pub struct HelloOptions {
    pub sni: Option<String>,
    /// supported_groups; `None` = every known group.
    pub groups: Option<Vec<u16>>,
    /// TLS 1.3 key shares to send (groups with a generator share); empty asks for an HRR.
    pub key_shares: Vec<u16>,
    pub alpn: Vec<&'static [u8]>,
    pub fallback_scsv: bool,
}

impl HelloOptions {
    pub fn new(sni: Option<String>) -> HelloOptions {
        HelloOptions {
            sni,
            groups: None,
            key_shares: vec![29, 23],
            alpn: vec![ALPN_H2, ALPN_HTTP11],
            fallback_scsv: false,
        }
    }
}

impl HelloOptions {
    /// The groups whose key shares a TLS 1.3 hello built with these options carries.
    pub fn sent_key_shares(&self) -> Vec<u16> {
        let offered = |g: &u16| self.groups.as_ref().is_none_or(|groups| groups.contains(g));
        self.key_shares.iter().copied().filter(offered).filter(|&g| generator_key_share(g).is_some()).collect()
    }
}

/// Build the record bytes of a ClientHello offering `suites` at `protocol` (not SSLv2).
pub fn build_hello(protocol: Protocol, suites: &[u16], options: &HelloOptions) -> Vec<u8> {
    let mut cipher_suites = suites.to_vec();
    if protocol == Protocol::Sslv3 {
        cipher_suites.push(EMPTY_RENEGOTIATION_INFO_SCSV);
    }
    if options.fallback_scsv {
        cipher_suites.push(FALLBACK_SCSV);
    }
    let groups: Vec<u16> = options.groups.clone().unwrap_or_else(|| NAMED_GROUPS.iter().map(|g| g.code).collect());
    let tls13 = protocol == Protocol::Tls13;

    let extensions = if protocol == Protocol::Sslv3 {
        // Classic SSLv3 clients sent no extensions; old stacks choke on them.
        None
    } else {
        let mut extensions = Vec::new();
        if let Some(name) = &options.sni {
            extensions.push(ClientExtension::ServerName(name.clone()));
        }
        extensions.push(ClientExtension::SupportedGroups(groups.clone()));
        extensions.push(ClientExtension::EcPointFormats(vec![0, 1, 2]));
        if protocol >= Protocol::Tls12 {
            extensions.push(ClientExtension::SignatureAlgorithms(SIGNATURE_SCHEMES.to_vec()));
        }
        if !tls13 {
            extensions.push(ClientExtension::RenegotiationInfo(Vec::new()));
        }
        extensions.push(ClientExtension::SessionTicket(Vec::new()));
        extensions.push(ClientExtension::StatusRequest);
        // RFC 6962 §3.3: a server with SCTs to send in TLS answers with them.
        extensions.push(ClientExtension::Unknown {
            extension_type: crate::tls::codec::extension_type::SIGNED_CERTIFICATE_TIMESTAMP,
            data: Vec::new(),
        });
        if !options.alpn.is_empty() {
            extensions.push(ClientExtension::Alpn(options.alpn.iter().map(|p| p.to_vec()).collect()));
        }
        extensions.push(ClientExtension::Heartbeat(1));
        extensions.push(ClientExtension::ExtendedMasterSecret);
        extensions.push(ClientExtension::EncryptThenMac);
        if tls13 {
            extensions.push(ClientExtension::SupportedVersions(vec![0x0304]));
            let shares = options
                .sent_key_shares()
                .into_iter()
                .filter_map(|g| generator_key_share(g).map(|key| (g, key)))
                .collect();
            extensions.push(ClientExtension::KeyShare(shares));
            extensions.push(ClientExtension::PskKeyExchangeModes(vec![1]));
        }
        Some(extensions)
    };

    let session_id = if tls13 { rand::random::<[u8; 32]>().to_vec() } else { Vec::new() };
    let hello = ClientHello {
        record_version: if protocol == Protocol::Sslv3 { 0x0300 } else { 0x0301 },
        client_version: if tls13 { 0x0303 } else { protocol.wire_version() },
        random: rand::random(),
        session_id,
        cipher_suites,
        compression_methods: if tls13 { vec![0] } else { vec![1, 0] },
        extensions,
    };
    hello.encode_record()
}

/// How a server answered one hello.
#[derive(Debug, Clone)]
pub enum Answer {
    /// It accepted the protocol and chose `suite` (from a ServerHello or HelloRetryRequest).
    Chose { suite: u16, flight: Box<ServerFlight> },
    /// It answered with another protocol version.
    Negotiated(u16),
    /// It refused: an alert, or a closed or reset connection.
    Refused(Refusal),
}

impl Answer {
    pub fn refusal_is_protocol_version(&self) -> bool {
        matches!(self, Answer::Refused(reason) if reason.alert_code() == Some(alert_description::PROTOCOL_VERSION))
    }
}

/// Turn a raw result into an Answer; transport failures stay errors.
pub fn classify(
    protocol: Protocol,
    offered: &[u16],
    result: Result<ServerFlight, NetError>,
) -> Result<Answer, NetError> {
    let flight = match result {
        Ok(flight) => flight,
        Err(NetError::Closed) => return Ok(Answer::Refused(Refusal::Closed)),
        Err(NetError::Reset) => return Ok(Answer::Refused(Refusal::Reset)),
        Err(error) => return Err(error),
    };
    if let Some(hello) = &flight.server_hello {
        let version = hello.selected_version().map_err(|e| NetError::Protocol(e.to_string()))?;
        if version != protocol.wire_version() {
            return Ok(Answer::Negotiated(version));
        }
        if !offered.contains(&hello.cipher_suite) {
            return Err(NetError::SuiteNotOffered(hello.cipher_suite));
        }
        let suite = hello.cipher_suite;
        return Ok(Answer::Chose { suite, flight: Box::new(flight) });
    }
    if let Some(alert) = flight.alert {
        return Ok(Answer::Refused(Refusal::alert(alert.description)));
    }
    Ok(Answer::Refused(Refusal::Closed))
}

pub fn is_inappropriate_fallback(answer: &Answer) -> bool {
    matches!(answer, Answer::Refused(reason) if reason.alert_code() == Some(alert_description::INAPPROPRIATE_FALLBACK))
}

pub fn version_name(version: u16) -> String {
    match Protocol::from_wire(version) {
        Some(protocol) => protocol.name().to_string(),
        None => format!("0x{version:04x}"),
    }
}
