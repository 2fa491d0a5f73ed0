//! STARTTLS preambles: the plaintext dialogue that turns an SMTP (RFC 3207), IMAP (RFC 3501
//! §6.2.1) or POP3 (RFC 2595 §4) connection into one where the next byte is a TLS ClientHello.
//! The `Connector` runs it on every connection it opens for such a target, so the whole TLS
//! sweep works unchanged over it. Every read is bounded by the connection's time and by
//! `MAX_DIALOGUE_BYTES`, and the number of lines a peer may send is capped (`MAX_REPLY_LINES`).
//!
//! A server that answers the upgrade with a refusal (SMTP: STARTTLS missing from the EHLO
//! reply, or any reply but 220 to the command; IMAP: a tagged `NO` or `BAD`; POP3: `-ERR`) gives
//! the typed error `NetError::StarttlsRefused` — the same for the three protocols, so the
//! target's `starttls` fact can be `false`. Anything else unexpected is a protocol error.

use std::fmt;

use crate::net::{Connection, NetError};

/// The most postura reads of a server's plaintext dialogue (greeting and capabilities).
const MAX_DIALOGUE_BYTES: usize = 16 * 1024;

/// The most lines postura reads for one reply: an SMTP multi-line reply, or the untagged IMAP
/// lines (`* …`) before the tagged answer to STARTTLS. Real servers send a handful (an EHLO
/// reply has about ten lines); a peer that keeps sending lines is refused at this cap rather
/// than read until the byte cap.
pub const MAX_REPLY_LINES: usize = 64;

/// The tag of postura's IMAP STARTTLS command.
const IMAP_TAG: &str = "P1";

/// Which plaintext protocol to upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Starttls {
    Smtp,
    Imap,
    Pop3,
}

impl fmt::Display for Starttls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Starttls::Smtp => "SMTP",
            Starttls::Imap => "IMAP",
            Starttls::Pop3 => "POP3",
        })
    }
}

/// Reads CRLF-terminated lines from a connection, keeping what follows the last line.
struct LineReader {
    buffer: Vec<u8>,
    total: usize,
}

impl LineReader {
    async fn line(&mut self, connection: &mut Connection) -> Result<String, NetError> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Ok(String::from_utf8_lossy(&line).trim_end().to_string());
            }
            let before = self.buffer.len();
            let cap = (before + MAX_DIALOGUE_BYTES).saturating_sub(self.total).max(before + 1);
            match connection.receive(&mut self.buffer, cap).await {
                Ok(0) => return Err(NetError::Closed),
                Ok(n) => self.total += n,
                Err(NetError::TooLarge) => return Err(NetError::Protocol("STARTTLS dialogue too long".into())),
                Err(error) => return Err(error),
            }
            if self.total > MAX_DIALOGUE_BYTES {
                return Err(NetError::Protocol("STARTTLS dialogue too long".into()));
            }
        }
    }

    /// An SMTP reply: lines `CODE-text` then `CODE text`; returns the code and the texts.
    async fn smtp_reply(&mut self, connection: &mut Connection) -> Result<(u16, Vec<String>), NetError> {
        let mut texts = Vec::new();
        for _ in 0..MAX_REPLY_LINES {
            let line = self.line(connection).await?;
            let (code, text, more) = smtp_reply_line(&line)?;
            texts.push(text.to_string());
            if !more {
                return Ok((code, texts));
            }
        }
        Err(NetError::Protocol(format!("SMTP reply with more than {MAX_REPLY_LINES} lines")))
    }
}

/// One line of an SMTP reply (`250-STARTTLS`, `220 ready`): its code, its text, and whether
/// more lines follow. Pure, so that it can be fuzzed (`fuzz/fuzz_targets/starttls_reply.rs`).
pub fn smtp_reply_line(line: &str) -> Result<(u16, &str, bool), NetError> {
    let code = line.get(..3).and_then(|c| c.parse::<u16>().ok()).ok_or_else(|| unexpected("SMTP reply", line))?;
    Ok((code, line.get(4..).unwrap_or(""), line.as_bytes().get(3) == Some(&b'-')))
}

/// A peer's line, cut to 80 characters with control characters replaced, for error messages.
fn printable(line: &str) -> String {
    line.chars().take(80).map(|c| if c.is_control() { '?' } else { c }).collect()
}

fn unexpected(what: &str, line: &str) -> NetError {
    NetError::Protocol(format!("unexpected {what}: \"{}\"", printable(line)))
}

fn refused(protocol: Starttls, reply: &str) -> NetError {
    NetError::StarttlsRefused { protocol, reply: format!("\"{}\"", printable(reply)) }
}

/// Run the dialogue; on success the next bytes on the connection are TLS.
pub async fn upgrade(connection: &mut Connection, protocol: Starttls) -> Result<(), NetError> {
    let mut reader = LineReader { buffer: Vec::new(), total: 0 };
    match protocol {
        Starttls::Smtp => {
            let (code, greeting) = reader.smtp_reply(connection).await?;
            if code != 220 {
                return Err(unexpected("SMTP greeting", &format!("{code} {}", greeting.join(" "))));
            }
            connection.send(b"EHLO postura.invalid\r\n").await?;
            let (code, capabilities) = reader.smtp_reply(connection).await?;
            if code != 250 {
                return Err(unexpected("EHLO reply", &format!("{code} {}", capabilities.join(" "))));
            }
            if !capabilities.iter().any(|c| c.trim().eq_ignore_ascii_case("STARTTLS")) {
                return Err(NetError::StarttlsRefused { protocol, reply: "not in the EHLO reply".into() });
            }
            connection.send(b"STARTTLS\r\n").await?;
            let (code, text) = reader.smtp_reply(connection).await?;
            if code != 220 {
                return Err(refused(protocol, &format!("{code} {}", text.join(" "))));
            }
        }
        Starttls::Imap => imap_upgrade(&mut reader, connection).await?,
        Starttls::Pop3 => {
            let greeting = reader.line(connection).await?;
            if !greeting.starts_with("+OK") {
                return Err(unexpected("POP3 greeting", &greeting));
            }
            connection.send(b"STLS\r\n").await?;
            let reply = reader.line(connection).await?;
            if reply.starts_with("-ERR") {
                return Err(refused(protocol, &reply));
            }
            if !reply.starts_with("+OK") {
                return Err(unexpected("STLS reply", &reply));
            }
        }
    }
    // A server that sent more after its last reply is not waiting for a ClientHello.
    if !reader.buffer.is_empty() {
        return Err(NetError::Protocol("data after the STARTTLS reply".into()));
    }
    Ok(())
}

/// IMAP: greeting, `P1 STARTTLS`, then untagged lines (at most `MAX_REPLY_LINES`) until the
/// tagged answer: `OK` upgrades, `NO` or `BAD` is a refusal.
async fn imap_upgrade(reader: &mut LineReader, connection: &mut Connection) -> Result<(), NetError> {
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
