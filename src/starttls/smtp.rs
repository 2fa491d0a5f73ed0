//! SMTP (RFC 3207) and LMTP (RFC 2033 §4.1, the same extension after `LHLO`): greeting 220, the
//! hello, STARTTLS among the capabilities, then `STARTTLS` answered by 220. Refusals: STARTTLS
//! missing from the hello's reply (the command is then not sent), or any answer but 220.

use super::reader::PeerReader;
use super::{not_offered, refused, unexpected, Starttls};
use crate::net::{Connection, NetError};

pub(super) async fn upgrade(
    reader: &mut PeerReader,
    connection: &mut Connection,
    protocol: Starttls,
) -> Result<(), NetError> {
    let (hello, name) = match protocol {
        Starttls::Lmtp => (&b"LHLO postura.invalid\r\n"[..], "LHLO"),
        _ => (&b"EHLO postura.invalid\r\n"[..], "EHLO"),
    };
    let (code, greeting) = reader.smtp_reply(connection).await?;
    if code != 220 {
        return Err(unexpected(&format!("{protocol} greeting"), &format!("{code} {}", greeting.join(" "))));
    }
    connection.send(hello).await?;
    let (code, capabilities) = reader.smtp_reply(connection).await?;
    if code != 250 {
        return Err(unexpected(&format!("{name} reply"), &format!("{code} {}", capabilities.join(" "))));
    }
    if !capabilities.iter().any(|c| c.trim().eq_ignore_ascii_case("STARTTLS")) {
        return Err(not_offered(protocol, &format!("not in the {name} reply")));
    }
    connection.send(b"STARTTLS\r\n").await?;
    let (code, text) = reader.smtp_reply(connection).await?;
    if code != 220 {
        return Err(refused(protocol, &format!("{code} {}", text.join(" "))));
    }
    Ok(())
}
