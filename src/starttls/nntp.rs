//! NNTP (RFC 4642 §2.2): greeting 200 or 201, `STARTTLS`, 382. Refusal: any other answer (580
//! "can not initiate TLS negotiation", 502 "command unavailable", or 500 from a server that
//! does not know the command). The capability list is not read first: a server without the
//! extension refuses the command, which costs the same round trip.

use super::reader::{smtp_reply_line, PeerReader};
use super::{refused, unexpected, Starttls};
use crate::net::{Connection, NetError};

pub(super) async fn upgrade(reader: &mut PeerReader, connection: &mut Connection) -> Result<(), NetError> {
    let greeting = reader.line(connection).await?;
    let (code, _, _) = smtp_reply_line(&greeting)?;
    if code != 200 && code != 201 {
        return Err(unexpected("NNTP greeting", &greeting));
    }
    connection.send(b"STARTTLS\r\n").await?;
    let reply = reader.line(connection).await?;
    let (code, _, _) = smtp_reply_line(&reply)?;
    if code != 382 {
        return Err(refused(Starttls::Nntp, &reply));
    }
    Ok(())
}
