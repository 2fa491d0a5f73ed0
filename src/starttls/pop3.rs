//! POP3 (RFC 2595 §4): greeting `+OK`, `STLS`, `+OK`. Refusal: `-ERR`.

use super::reader::PeerReader;
use super::{refused, unexpected, Starttls};
use crate::net::{Connection, NetError};

pub(super) async fn upgrade(reader: &mut PeerReader, connection: &mut Connection) -> Result<(), NetError> {
    let greeting = reader.line(connection).await?;
    if !greeting.starts_with("+OK") {
        return Err(unexpected("POP3 greeting", &greeting));
    }
    connection.send(b"STLS\r\n").await?;
    let reply = reader.line(connection).await?;
    if reply.starts_with("-ERR") {
        return Err(refused(Starttls::Pop3, &reply));
    }
    if !reply.starts_with("+OK") {
        return Err(unexpected("STLS reply", &reply));
    }
    Ok(())
}
