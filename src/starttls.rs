//! STARTTLS preambles: the plaintext dialogue that turns an SMTP (RFC 3207), IMAP (RFC 3501
//! §6.2.1) or POP3 (RFC 2595 §4) connection into one where the next byte is a TLS ClientHello.
//! The `Connector` runs it on every connection it opens for such a target, so the whole TLS
//! sweep works unchanged over it. Every read is bounded by the connection's time and by
//! `MAX_DIALOGUE_BYTES`; whatever the server says that is not the expected answer is reported
//! (printably) as a protocol error.

use crate::net::{Connection, NetError};

/// The most postura reads of a server's plaintext dialogue (greeting and capabilities).
const MAX_DIALOGUE_BYTES: usize = 16 * 1024;

/// Which plaintext protocol to upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Starttls {
    Smtp,
    Imap,
    Pop3,
}

impl Starttls {
    /// The STARTTLS protocol of a service name (`smtp-starttls`, …), if it has one.
    pub fn for_service(service: &str) -> Option<Starttls> {
        match service {
            "smtp-starttls" => Some(Starttls::Smtp),
            "imap-starttls" => Some(Starttls::Imap),
            "pop3-starttls" => Some(Starttls::Pop3),
            _ => None,
        }
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
            let cap = (before + MAX_DIALOGUE_BYTES)
                .saturating_sub(self.total)
                .max(before + 1);
            match connection.receive(&mut self.buffer, cap).await {
                Ok(0) => return Err(NetError::Closed),
                Ok(n) => self.total += n,
                Err(NetError::TooLarge) => {
                    return Err(NetError::Protocol("STARTTLS dialogue too long".into()))
                }
                Err(error) => return Err(error),
            }
            if self.total > MAX_DIALOGUE_BYTES {
                return Err(NetError::Protocol("STARTTLS dialogue too long".into()));
            }
        }
    }

    /// An SMTP reply: lines `CODE-text` then `CODE text`; returns the code and the texts.
    async fn smtp_reply(
        &mut self,
        connection: &mut Connection,
    ) -> Result<(u16, Vec<String>), NetError> {
        let mut texts = Vec::new();
        for _ in 0..100 {
            let line = self.line(connection).await?;
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| unexpected("SMTP reply", &line))?;
            texts.push(line.get(4..).unwrap_or("").to_string());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, texts));
            }
        }
        Err(NetError::Protocol(
            "SMTP reply with more than 100 lines".into(),
        ))
    }
}

fn unexpected(what: &str, line: &str) -> NetError {
    let shown: String = line
        .chars()
        .take(80)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    NetError::Protocol(format!("unexpected {what}: \"{shown}\""))
}

/// Run the dialogue; on success the next bytes on the connection are TLS.
pub async fn upgrade(connection: &mut Connection, protocol: Starttls) -> Result<(), NetError> {
    let mut reader = LineReader {
        buffer: Vec::new(),
        total: 0,
    };
    match protocol {
        Starttls::Smtp => {
            let (code, greeting) = reader.smtp_reply(connection).await?;
            if code != 220 {
                return Err(unexpected(
                    "SMTP greeting",
                    &format!("{code} {}", greeting.join(" ")),
                ));
            }
            connection.send(b"EHLO postura.invalid\r\n").await?;
            let (code, capabilities) = reader.smtp_reply(connection).await?;
            if code != 250 {
                return Err(unexpected(
                    "EHLO reply",
                    &format!("{code} {}", capabilities.join(" ")),
                ));
            }
            if !capabilities
                .iter()
                .any(|c| c.trim().eq_ignore_ascii_case("STARTTLS"))
            {
                return Err(NetError::StarttlsRefused(
                    "not in the EHLO reply".into(),
                ));
            }
            connection.send(b"STARTTLS\r\n").await?;
            let (code, text) = reader.smtp_reply(connection).await?;
            if code != 220 {
                return Err(unexpected(
                    "STARTTLS reply",
                    &format!("{code} {}", text.join(" ")),
                ));
            }
        }
        Starttls::Imap => {
            let greeting = reader.line(connection).await?;
            if !greeting.to_ascii_uppercase().starts_with("* OK") {
                return Err(unexpected("IMAP greeting", &greeting));
            }
            connection.send(b"P1 STARTTLS\r\n").await?;
            for _ in 0..100 {
                let line = reader.line(connection).await?;
                if let Some(status) = line.strip_prefix("P1 ") {
                    if status.to_ascii_uppercase().starts_with("OK") {
                        break;
                    }
                    return Err(unexpected("STARTTLS reply", &line));
                }
            }
        }
        Starttls::Pop3 => {
            let greeting = reader.line(connection).await?;
            if !greeting.starts_with("+OK") {
                return Err(unexpected("POP3 greeting", &greeting));
            }
            connection.send(b"STLS\r\n").await?;
            let reply = reader.line(connection).await?;
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
