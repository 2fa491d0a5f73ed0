//! MySQL and MariaDB (client/server protocol, "SSL handshake"): the server speaks first with
//! its greeting (handshake protocol 10); if its capabilities include CLIENT_SSL, postura
//! answers with the 32-byte SSLRequest packet and TLS begins. Refusal: CLIENT_SSL missing from
//! the greeting (the request is then not sent). An error packet instead of a greeting (host
//! not allowed, too many connections) is a protocol error that quotes the server's message.

use super::reader::PeerReader;
use super::{not_offered, Starttls, MAX_DIALOGUE_BYTES};
use crate::net::{Connection, NetError};

const CLIENT_LONG_PASSWORD: u32 = 0x0000_0001;
const CLIENT_PROTOCOL_41: u32 = 0x0000_0200;
const CLIENT_SSL: u32 = 0x0000_0800;
const CLIENT_SECURE_CONNECTION: u32 = 0x0000_8000;
/// What postura's SSLRequest announces (of what the server offers), CLIENT_SSL always.
const CLIENT_CAPABILITIES: u32 = CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION;
/// utf8mb3_general_ci: any value the server knows will do, nothing is sent in it.
const CHARSET: u8 = 33;

/// What postura reads of the greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerGreeting {
    /// The packet's sequence number (the SSLRequest carries the next).
    pub sequence: u8,
    pub server_version: String,
    /// The lower and (when sent) upper capability flags.
    pub capabilities: u32,
}

pub(super) async fn upgrade(reader: &mut PeerReader, connection: &mut Connection) -> Result<(), NetError> {
    let greeting = loop {
        match server_greeting(&reader.buffer).map_err(|e| NetError::Protocol(format!("MySQL {e}")))? {
            Some((greeting, used)) => {
                reader.consume(used);
                break greeting;
            }
            None => reader.fill(connection).await?,
        }
    };
    if greeting.capabilities & CLIENT_SSL == 0 {
        return Err(not_offered(Starttls::Mysql, "CLIENT_SSL not in the server greeting's capabilities"));
    }
    if greeting.capabilities & CLIENT_PROTOCOL_41 == 0 {
        return Err(NetError::Protocol("MySQL server without protocol 4.1".into()));
    }
    let capabilities = (CLIENT_CAPABILITIES & greeting.capabilities) | CLIENT_SSL;
    let mut request = vec![32, 0, 0, greeting.sequence.wrapping_add(1)];
    request.extend_from_slice(&capabilities.to_le_bytes());
    request.extend_from_slice(&(1u32 << 24).to_le_bytes());
    request.push(CHARSET);
    request.extend_from_slice(&[0; 23]);
    connection.send(&request).await
}

/// The server's first packet: `Ok(None)` while incomplete, else the greeting and its length in
/// bytes. Pure, so that it can be fuzzed.
pub fn server_greeting(bytes: &[u8]) -> Result<Option<(ServerGreeting, usize)>, String> {
    let Some(header) = bytes.get(..4) else {
        return Ok(None);
    };
    let length = usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    if length > MAX_DIALOGUE_BYTES {
        return Err(format!("greeting of {length} bytes"));
    }
    let Some(payload) = bytes.get(4..4 + length) else {
        return Ok(None);
    };
    match payload.first() {
        Some(10) => {}
        Some(0xff) => return Err(error_packet(payload)),
        Some(version) => return Err(format!("handshake protocol {version} (10 expected)")),
        None => return Err("empty greeting".into()),
    }
    let version_end = payload[1..].iter().position(|b| *b == 0).ok_or("greeting without a server version")? + 1;
    let server_version = String::from_utf8_lossy(&payload[1..version_end]).into_owned();
    // NUL, connection id (4), auth-plugin-data part 1 (8), filler (1), capabilities (2).
    let lower = version_end + 1 + 4 + 8 + 1;
    let low = payload.get(lower..lower + 2).ok_or("greeting without capabilities")?;
    let mut capabilities = u32::from(u16::from_le_bytes([low[0], low[1]]));
    // Then character set (1) and status (2) before the upper capabilities (optional).
    if let Some(high) = payload.get(lower + 5..lower + 7) {
        capabilities |= u32::from(u16::from_le_bytes([high[0], high[1]])) << 16;
    }
    Ok(Some((ServerGreeting { sequence: header[3], server_version, capabilities }, 4 + length)))
}

/// `0xff`, error code (2, LE), then the message (after a `#SQLSTATE` when present).
fn error_packet(payload: &[u8]) -> String {
    let code = payload.get(1..3).map(|c| u16::from_le_bytes([c[0], c[1]])).unwrap_or(0);
    let mut message = payload.get(3..).unwrap_or_default();
    if message.first() == Some(&b'#') {
        message = message.get(6..).unwrap_or_default();
    }
    format!("server error {code}: \"{}\"", super::printable(&String::from_utf8_lossy(message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn greeting(capabilities: u32) -> Vec<u8> {
        let mut payload = vec![10];
        payload.extend_from_slice(b"10.11.19-MariaDB\0");
        payload.extend_from_slice(&[7, 0, 0, 0]);
        payload.extend_from_slice(b"abcdefgh\0");
        payload.extend_from_slice(&(capabilities as u16).to_le_bytes());
        payload.extend_from_slice(&[33, 2, 0]);
        payload.extend_from_slice(&((capabilities >> 16) as u16).to_le_bytes());
        payload.extend_from_slice(&[21; 11]);
        let mut packet = vec![payload.len() as u8, 0, 0, 0];
        packet.extend_from_slice(&payload);
        packet
    }

    #[test]
    fn greetings_parse_and_every_prefix_is_incomplete() {
        let packet = greeting(0x000f_a8ff);
        let (parsed, used) = server_greeting(&packet).unwrap().unwrap();
        assert_eq!(used, packet.len());
        assert_eq!(parsed.server_version, "10.11.19-MariaDB");
        assert_eq!(parsed.capabilities, 0x000f_a8ff);
        for cut in 0..packet.len() {
            assert_eq!(server_greeting(&packet[..cut]), Ok(None), "prefix of {cut} bytes");
        }
    }

    #[test]
    fn error_packets_and_other_protocols_are_errors() {
        let mut packet = vec![0, 0, 0, 0, 0xff, 0x6a, 0x04];
        packet.extend_from_slice(b"Host '127.0.0.1' is not allowed to connect");
        packet[0] = (packet.len() - 4) as u8;
        assert_eq!(
            server_greeting(&packet),
            Err("server error 1130: \"Host '127.0.0.1' is not allowed to connect\"".into())
        );
        assert!(server_greeting(b"\x01\x00\x00\x00\x09").is_err());
        assert!(server_greeting(b"\xff\xff\xff\x00").is_err(), "a 16 MiB greeting is refused, not awaited");
    }
}
