//! Bounded reads of a peer's plaintext dialogue: raw bytes for the binary protocols (LDAP,
//! PostgreSQL, MySQL), CRLF lines and numeric replies for the text ones.

use super::{unexpected, MAX_DIALOGUE_BYTES, MAX_REPLY_LINES};
use crate::net::{Connection, NetError};

/// What the peer sent and postura has not consumed yet, and how much it sent in all (capped at
/// `MAX_DIALOGUE_BYTES` for the whole dialogue).
#[derive(Default)]
pub(super) struct PeerReader {
    pub buffer: Vec<u8>,
    total: usize,
}

impl PeerReader {
    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// Read what arrives (at least one byte) into the buffer, within the dialogue's byte cap.
    pub async fn fill(&mut self, connection: &mut Connection) -> Result<(), NetError> {
        let before = self.buffer.len();
        let cap = (before + MAX_DIALOGUE_BYTES).saturating_sub(self.total).max(before + 1);
        match connection.receive(&mut self.buffer, cap).await {
            Ok(0) => return Err(NetError::Closed),
            Ok(n) => self.total += n,
            Err(NetError::TooLarge) => return Err(too_long()),
            Err(error) => return Err(error),
        }
        if self.total > MAX_DIALOGUE_BYTES {
            return Err(too_long());
        }
        Ok(())
    }

    /// Drop the first `n` bytes (consumed by a parser).
    pub fn consume(&mut self, n: usize) {
        self.buffer.drain(..n.min(self.buffer.len()));
    }

    /// The next line without its line end, invalid UTF-8 replaced.
    pub async fn line(&mut self, connection: &mut Connection) -> Result<String, NetError> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Ok(String::from_utf8_lossy(&line).trim_end().to_string());
            }
            self.fill(connection).await?;
        }
    }

    /// An SMTP reply (also LMTP): lines `CODE-text` then `CODE text`; returns the code and the
    /// texts. Every line must carry the code (RFC 5321 §4.2.1).
    pub async fn smtp_reply(&mut self, connection: &mut Connection) -> Result<(u16, Vec<String>), NetError> {
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

fn too_long() -> NetError {
    NetError::Protocol("STARTTLS dialogue too long".into())
}

/// One line of an SMTP, LMTP, FTP or NNTP reply (`250-STARTTLS`, `220 ready`): its code, its
/// text, and whether more lines follow. Pure, so that it can be fuzzed
/// (`fuzz/fuzz_targets/starttls_reply.rs`).
pub fn smtp_reply_line(line: &str) -> Result<(u16, &str, bool), NetError> {
    let code = line
        .get(..3)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| unexpected("reply", line))?;
    Ok((code, line.get(4..).unwrap_or(""), line.as_bytes().get(3) == Some(&b'-')))
}
