//! FTP (RFC 4217 §4): greeting 220, `AUTH TLS`, 234. Refusal: any other answer (vsftpd
//! without TLS says `530 Please login with USER and PASS.`, others 500, 502 or 504).
//!
//! FTP's multi-line replies (RFC 959 §4.2) start with `CODE-` and end at a line starting with
//! the same code and a space; the lines between need not carry a code (banners often don't).

use super::reader::{smtp_reply_line, PeerReader};
use super::{refused, unexpected, Starttls, MAX_REPLY_LINES};
use crate::net::{Connection, NetError};

pub(super) async fn upgrade(reader: &mut PeerReader, connection: &mut Connection) -> Result<(), NetError> {
    let (code, greeting) = reply(reader, connection).await?;
    if code != 220 {
        return Err(unexpected("FTP greeting", &format!("{code} {greeting}")));
    }
    connection.send(b"AUTH TLS\r\n").await?;
    let (code, text) = reply(reader, connection).await?;
    if code != 234 {
        return Err(refused(Starttls::Ftp, &format!("{code} {text}")));
    }
    Ok(())
}

/// One FTP reply: its code and the text of its first line.
async fn reply(reader: &mut PeerReader, connection: &mut Connection) -> Result<(u16, String), NetError> {
    let first = reader.line(connection).await?;
    let (code, text, more) = smtp_reply_line(&first)?;
    let text = text.to_string();
    if !more {
        return Ok((code, text));
    }
    for _ in 1..MAX_REPLY_LINES {
        if ftp_reply_ends(code, &reader.line(connection).await?) {
            return Ok((code, text));
        }
    }
    Err(NetError::Protocol(format!("FTP reply with more than {MAX_REPLY_LINES} lines")))
}

/// Whether `line` ends a multi-line FTP reply that began with `code`: the same three digits,
/// then a space or nothing.
pub fn ftp_reply_ends(code: u16, line: &str) -> bool {
    let code = format!("{code:03}");
    line.strip_prefix(code.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_replies_end_at_their_code() {
        assert!(ftp_reply_ends(220, "220 ready"));
        assert!(ftp_reply_ends(220, "220"));
        assert!(!ftp_reply_ends(220, "220-more"));
        assert!(!ftp_reply_ends(220, " 220 indented"));
        assert!(!ftp_reply_ends(220, "2201 x"));
        assert!(!ftp_reply_ends(230, "220 other code"));
        assert!(ftp_reply_ends(7, "007 odd"));
    }
}
