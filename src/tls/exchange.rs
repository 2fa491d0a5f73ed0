//! One ClientHello out, the server's first flight back: the single network primitive of the
//! sweep. The flight is read until ServerHelloDone, a TLS 1.3 ServerHello or HelloRetryRequest
//! (whose rest is encrypted), an alert, or the end of the stream — within the connection's time
//! and a size cap — and then the connection is dropped without completing the handshake.

use crate::net::{Connection, Connector, NetError};
use crate::tls::codec::tls13_flight::{
    client_hello_from_records, generator_shared_secret, FlightDecryptor, FlightError, Progress, Tls13Flight,
};
use crate::tls::codec::{
    content_type, handshake_type, Alert, CertificateMessage, CertificateRequest, CertificateStatus, CodecError,
    HandshakeMessage, HandshakeReassembler, Record, ServerHello, Sslv2ServerHello,
};

/// The most a server may send in its first flight before postura gives up on it.
pub const MAX_FLIGHT_BYTES: usize = 512 * 1024;
/// The largest single handshake message accepted (a long certificate chain fits easily).
const MAX_HANDSHAKE_MESSAGE: usize = 256 * 1024;

/// What a server sent back to one ClientHello.
#[derive(Debug, Default, Clone)]
pub struct ServerFlight {
    pub server_hello: Option<ServerHello>,
    pub certificates: Option<Vec<Vec<u8>>>,
    pub server_key_exchange: Option<Vec<u8>>,
    pub certificate_status: Option<CertificateStatus>,
    /// The server asked for a client certificate (TLS ≤ 1.2).
    pub certificate_request: Option<CertificateRequest>,
    pub hello_done: bool,
    pub alert: Option<Alert>,
    /// The server closed the connection (after whatever is recorded above).
    pub closed: bool,
    /// The decrypted TLS 1.3 flight, when asked for (`Until::Tls13Flight`) and a TLS 1.3
    /// ServerHello came.
    pub tls13: Option<Tls13FlightRead>,
}

/// What reading a TLS 1.3 server's encrypted flight gave: everything decrypted up to the first
/// failure, and that failure's reason.
#[derive(Debug, Clone, Default)]
pub struct Tls13FlightRead {
    pub flight: Tls13Flight,
    pub error: Option<String>,
}

impl Tls13FlightRead {
    /// Read through a Finished that matches the transcript.
    pub fn complete(&self) -> bool {
        self.error.is_none() && self.flight.finished_verified
    }
}

/// How to read the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Stop as soon as the ServerHello is in: the suite choice is all that is needed.
    ServerHello,
    /// Also read Certificate, ServerKeyExchange and CertificateStatus (TLS ≤ 1.2).
    HelloDone,
    /// After a TLS 1.3 ServerHello, read and decrypt the server's flight up to its Finished.
    Tls13Flight,
}

/// Send a TLS ClientHello and read the flight.
pub async fn exchange(connector: &Connector, hello: &[u8], until: Until) -> Result<ServerFlight, NetError> {
    exchange_open(connector, hello, until).await.map(|(_, flight)| flight)
}

/// As `exchange`, keeping the connection open for what comes next (the vulnerability probes
/// send their own records after the server's flight).
pub async fn exchange_open(
    connector: &Connector,
    hello: &[u8],
    until: Until,
) -> Result<(Connection, ServerFlight), NetError> {
    let mut connection = connector.connect().await?;
    connection.send(hello).await?;
    let flight = read_flight(&mut connection, until, hello).await?;
    Ok((connection, flight))
}

async fn read_flight(connection: &mut Connection, until: Until, hello: &[u8]) -> Result<ServerFlight, NetError> {
    let mut flight = ServerFlight::default();
    let mut buffer = Vec::new();
    let mut reassembler = HandshakeReassembler::new(MAX_HANDSHAKE_MESSAGE);
    let mut received_total = 0usize;
    let mut decryptor: Option<FlightDecryptor> = None;
    loop {
        // Take every complete record out of the buffer before reading more.
        loop {
            let decoded = match (Record::decode(&buffer), decryptor.take()) {
                // Past the ServerHello, bytes that are not a record end the encrypted read only.
                (Err(error), Some(reader)) => {
                    flight.tls13 = Some(stopped(Some(reader), &format!("not a TLS record ({error})")));
                    return Ok(flight);
                }
                (decoded, reader) => {
                    decryptor = reader;
                    decoded.map_err(not_tls(&buffer))?
                }
            };
            let Some((record, consumed)) = decoded else { break };
            buffer.drain(..consumed);
            if let Some(reader) = decryptor.as_mut() {
                match reader.push(&record) {
                    Ok(Progress::More) => continue,
                    Ok(Progress::Done) => {
                        flight.tls13 =
                            decryptor.take().map(|d| Tls13FlightRead { flight: d.into_flight(), error: None });
                        return Ok(flight);
                    }
                    Err(error) => {
                        flight.tls13 = Some(stopped(decryptor.take(), &error.to_string()));
                        return Ok(flight);
                    }
                }
            }
            match record.content_type {
                content_type::ALERT => {
                    flight.alert = Some(Alert::decode(&record.fragment).map_err(protocol_error)?);
                    return Ok(flight);
                }
                content_type::HANDSHAKE => {
                    reassembler.push(&record.fragment);
                    while let Some(message) = reassembler.next_message().map_err(protocol_error)? {
                        if take_message(&mut flight, message.handshake_type, &message.body)? {
                            if until == Until::Tls13Flight {
                                match start_decryption(hello, &message, &flight) {
                                    Ok(Some(reader)) if reassembler.pending_len() == 0 => {
                                        decryptor = Some(reader);
                                        break;
                                    }
                                    Ok(Some(_)) => {
                                        flight.tls13 =
                                            Some(stopped(None, "plaintext handshake bytes after the ServerHello"))
                                    }
                                    Ok(None) => {}
                                    Err(error) => {
                                        let mut read = stopped(None, &error.to_string());
                                        if let Some(hello) = &flight.server_hello {
                                            read.flight.cipher_suite = hello.cipher_suite;
                                            read.flight.group = hello.key_share_group().ok().flatten().unwrap_or(0);
                                        }
                                        flight.tls13 = Some(read);
                                    }
                                }
                            }
                            return Ok(flight);
                        }
                        if until == Until::ServerHello && flight.server_hello.is_some() {
                            return Ok(flight);
                        }
                    }
                }
                // TLS 1.3 middlebox compatibility, or encrypted data we cannot read: the clear
                // part of the flight is over.
                content_type::CHANGE_CIPHER_SPEC | content_type::APPLICATION_DATA if flight.server_hello.is_some() => {
                    return Ok(flight);
                }
                other => return Err(NetError::Protocol(format!("unexpected record type {other} before ServerHello"))),
            }
        }
        let n = connection.receive(&mut buffer, MAX_FLIGHT_BYTES.saturating_sub(received_total)).await;
        // The ServerHello is in: a failure while reading the encrypted rest is that read's
        // reason, not the exchange's.
        if let Some(reader) = decryptor.take() {
            match n {
                Ok(n) if n > 0 => {
                    received_total += n;
                    decryptor = Some(reader);
                    continue;
                }
                Ok(_) | Err(NetError::Reset) => {
                    flight.closed = true;
                    flight.tls13 =
                        Some(stopped(Some(reader), "the connection was closed before the server's Finished"));
                }
                Err(error) => flight.tls13 = Some(stopped(Some(reader), &error.to_string())),
            }
            return Ok(flight);
        }
        match n {
            Ok(0) | Err(NetError::Reset) if flight.server_hello.is_some() => {
                flight.closed = true;
                return Ok(flight);
            }
            Ok(0) => return Err(NetError::Closed),
            Ok(n) => received_total += n,
            Err(error) => return Err(error),
        }
    }
}

/// The decryptor for the records after a TLS 1.3 ServerHello (`None` for a HelloRetryRequest or
/// an older version).
fn start_decryption(
    hello: &[u8],
    server_hello: &HandshakeMessage,
    flight: &ServerFlight,
) -> Result<Option<FlightDecryptor>, FlightError> {
    let Some(decoded) = flight.server_hello.as_ref() else {
        return Ok(None);
    };
    if decoded.is_hello_retry_request() || decoded.selected_version()? < 0x0304 {
        return Ok(None);
    }
    let secret = generator_shared_secret(decoded)?;
    let client_hello = client_hello_from_records(hello)?;
    FlightDecryptor::new(&client_hello, &server_hello.encode(), &secret).map(Some)
}

/// A flight read that stopped with `reason`, keeping what was decrypted before.
fn stopped(decryptor: Option<FlightDecryptor>, reason: &str) -> Tls13FlightRead {
    Tls13FlightRead {
        flight: decryptor.map(FlightDecryptor::into_flight).unwrap_or_default(),
        error: Some(reason.to_string()),
    }
}

/// Record one handshake message; true when the flight is complete.
fn take_message(flight: &mut ServerFlight, kind: u8, body: &[u8]) -> Result<bool, NetError> {
    match kind {
        handshake_type::SERVER_HELLO => {
            let hello = ServerHello::decode(body).map_err(protocol_error)?;
            let tls13 = hello.is_hello_retry_request() || hello.selected_version().map_err(protocol_error)? >= 0x0304;
            flight.server_hello = Some(hello);
            // The rest of a TLS 1.3 flight is encrypted.
            Ok(tls13)
        }
        handshake_type::CERTIFICATE => {
            flight.certificates = Some(CertificateMessage::decode(body).map_err(protocol_error)?.certificates);
            Ok(false)
        }
        handshake_type::SERVER_KEY_EXCHANGE => {
            flight.server_key_exchange = Some(body.to_vec());
            Ok(false)
        }
        handshake_type::CERTIFICATE_STATUS => {
            flight.certificate_status = Some(CertificateStatus::decode(body).map_err(protocol_error)?);
            Ok(false)
        }
        handshake_type::CERTIFICATE_REQUEST => {
            let tls12 = flight.server_hello.as_ref().is_some_and(|h| h.legacy_version >= 0x0303);
            flight.certificate_request = Some(CertificateRequest::decode(body, tls12).map_err(protocol_error)?);
            Ok(false)
        }
        handshake_type::SERVER_HELLO_DONE => {
            flight.hello_done = true;
            Ok(true)
        }
        // Anything unexpected: keep reading until ServerHelloDone.
        _ => Ok(false),
    }
}

fn protocol_error(error: CodecError) -> NetError {
    NetError::Protocol(error.to_string())
}

/// A peer whose very first bytes are not a TLS record is not a TLS server: say what it sent.
fn not_tls(buffer: &[u8]) -> impl Fn(CodecError) -> NetError + '_ {
    move |error| NetError::Protocol(format!("not TLS ({error}); first bytes: {}", printable_prefix(buffer)))
}

/// A short, safe rendering of what a peer sent, for error messages.
pub fn printable_prefix(bytes: &[u8]) -> String {
    let prefix = &bytes[..bytes.len().min(24)];
    if prefix.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("\"{}\"", String::from_utf8_lossy(prefix))
    } else {
        prefix.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join("")
    }
}

/// The answer to an SSLv2 CLIENT-HELLO.
#[derive(Debug, Clone)]
pub enum Sslv2Answer {
    Hello(Sslv2ServerHello),
    /// The server answered in TLS (an alert, usually) or closed: no SSLv2.
    Refused(crate::facts::Refusal),
}

pub async fn exchange_sslv2(connector: &Connector, hello: &[u8]) -> Result<Sslv2Answer, NetError> {
    let mut connection = connector.connect().await?;
    connection.send(hello).await?;
    let mut buffer = Vec::new();
    loop {
        match Sslv2ServerHello::decode_record(&buffer) {
            Ok(Some((hello, _))) => return Ok(Sslv2Answer::Hello(hello)),
            Ok(None) => {}
            Err(error) => match Record::decode(&buffer) {
                Ok(Some((record, _))) => {
                    if record.content_type == content_type::ALERT {
                        if let Ok(alert) = Alert::decode(&record.fragment) {
                            return Ok(Sslv2Answer::Refused(crate::facts::Refusal::alert(alert.description)));
                        }
                    }
                    return Ok(Sslv2Answer::Refused(crate::facts::Refusal::AnsweredInTls));
                }
                // The start of a TLS record: read on until it is whole.
                Ok(None) => {}
                Err(_) => {
                    return Ok(Sslv2Answer::Refused(crate::facts::Refusal::NotSslv2 { detail: error.to_string() }))
                }
            },
        }
        match connection.receive(&mut buffer, 64 * 1024).await {
            Ok(0) | Err(NetError::Reset) => return Ok(Sslv2Answer::Refused(crate::facts::Refusal::Closed)),
            Ok(_) => {}
            Err(error) => return Err(error),
        }
    }
}
