//! IMAP (RFC 3501 §6.2.1): greeting `* OK`, `P1 STARTTLS`, then untagged lines (at most
//! `MAX_REPLY_LINES`) until the tagged answer: `OK` upgrades, `NO` or `BAD` is a refusal.

use super::reader::PeerReader;
use super::{refused, unexpected, Starttls, MAX_REPLY_LINES};
use crate::net::{Connection, NetError};

/// The tag of postura's IMAP STARTTLS command.
const IMAP_TAG: &str = "P1";

pub(super) async fn upgrade(reader: &mut PeerReader, connection: &mut Connection) -> Result<(), NetError> {
    let greeting = reader.line(connection).await?;
    if !greeting.to_ascii_uppercase().starts_with("* OK") {
        return Err(unexpected("IMAP greeting", &greeting));
    }
    connection.send(format!("{IMAP_TAG} STARTTLS\r\n").as_bytes()).await?;
    for _ in 0..MAX_REPLY_LINES {
        let line = reader.line(connection).await?;
        if line.starts_with("* ") {
            continue;
        }
        let status = line
            .strip_prefix(IMAP_TAG)
            .and_then(|rest| rest.strip_prefix(' '))
            .map(|status| status.split(' ').next().unwrap_or("").to_ascii_uppercase());
        return match status.as_deref() {
            Some("OK") => Ok(()),
            Some("NO" | "BAD") => Err(refused(Starttls::Imap, &line)),
            _ => Err(unexpected("STARTTLS reply", &line)),
        };
    }
    Err(NetError::Protocol(format!("IMAP STARTTLS reply: no tagged answer within {MAX_REPLY_LINES} lines")))
}
