//! PostgreSQL (protocol 3, "SSL Session Encryption"): the 8-byte SSLRequest, answered by one
//! byte: `S` upgrades; `N` is a refusal, and so is an ErrorResponse (`E`), which only a server
//! without any SSL support sends. A server that sends more than the one byte before the
//! ClientHello is refused by the caller (CVE-2021-23214 was a server buffering such bytes).

use super::reader::PeerReader;
use super::{not_offered, unexpected, Starttls};
use crate::net::{Connection, NetError};

/// Length 8, then the SSLRequest code 80877103 (1234 in the high half, 5679 in the low).
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

pub(super) async fn upgrade(reader: &mut PeerReader, connection: &mut Connection) -> Result<(), NetError> {
    connection.send(&SSL_REQUEST).await?;
    reader.fill(connection).await?;
    let Some(&answer) = reader.buffer.first() else {
        return Err(NetError::Closed);
    };
    reader.consume(1);
    match answer {
        b'S' => Ok(()),
        b'N' => Err(not_offered(Starttls::Postgres, "\"N\" (the server does not accept SSL)")),
        b'E' => {
            reader.buffer.clear();
            Err(not_offered(Starttls::Postgres, "an ErrorResponse to the SSLRequest"))
        }
        other => Err(unexpected("SSLRequest answer", &format!("0x{other:02x}"))),
    }
}
