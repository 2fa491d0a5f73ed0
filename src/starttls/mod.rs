//! STARTTLS preambles: the plaintext dialogue that turns a connection into one where the next
//! byte is a TLS ClientHello. The `Connector` runs it on every connection it opens for such a
//! target, so the whole TLS sweep works unchanged over it. One file per protocol:
//!
//! | protocol | file | dialogue (postura's lines in quotes) | upgrade on |
//! |---|---|---|---|
//! | SMTP (RFC 3207) | `smtp.rs` | greeting 220, `EHLO`, capabilities, `STARTTLS` | 220 |
//! | LMTP (RFC 2033) | `smtp.rs` | greeting 220, `LHLO`, capabilities, `STARTTLS` | 220 |
//! | IMAP (RFC 3501 §6.2.1) | `imap.rs` | greeting `* OK`, `P1 STARTTLS` | `P1 OK` |
//! | POP3 (RFC 2595 §4) | `pop3.rs` | greeting `+OK`, `STLS` | `+OK` |
//! | FTP (RFC 4217) | `ftp.rs` | greeting 220, `AUTH TLS` | 234 |
//! | NNTP (RFC 4642) | `nntp.rs` | greeting 200/201, `STARTTLS` | 382 |
//! | ManageSieve (RFC 5804) | `sieve.rs` | capability lines then `OK`, `STARTTLS` | `OK` |
//! | XMPP client and server (RFC 6120 §5) | `xmpp.rs` | stream header, features, `<starttls/>` | `<proceed/>` |
//! | LDAP (RFC 4511 §4.14) | `ldap.rs` | ExtendedRequest 1.3.6.1.4.1.1466.20037 | resultCode 0 |
//! | PostgreSQL | `postgres.rs` | SSLRequest (8 bytes) | `S` |
//! | MySQL, MariaDB | `mysql.rs` | greeting (handshake v10), SSLRequest packet | CLIENT_SSL in the greeting |
//!
//! Every dialogue costs one or two round trips on the connection it upgrades and never a
//! connection of its own. Every read is bounded by the connection's time and, for the whole
//! dialogue, by `MAX_DIALOGUE_BYTES`; the number of lines a peer may send for one reply is
//! capped (`MAX_REPLY_LINES`). A server that sends anything after its last answer is not
//! waiting for a ClientHello: that is a protocol error.
//!
//! A server that answers the upgrade with a refusal gives the typed error
//! `NetError::StarttlsRefused` — the same for every protocol, so the target's `starttls` fact
//! can be `false`; each protocol's file says what counts as one. Anything else unexpected is a
//! protocol error.

mod ftp;
mod imap;
mod ldap;
mod mysql;
mod nntp;
mod pop3;
mod postgres;
mod reader;
mod sieve;
mod smtp;
mod xmpp;

use std::fmt;

use crate::net::{Connection, NetError};

pub use ftp::ftp_reply_ends;
pub use ldap::{extended_response, ExtendedResponse, START_TLS_REQUEST};
pub use mysql::{server_greeting, ServerGreeting};
pub use reader::smtp_reply_line;
pub use sieve::{sieve_line, SieveLine};
pub use xmpp::{starttls_answer, stream_features, XmppAnswer};

use reader::PeerReader;

/// The most postura reads of a server's plaintext dialogue (greeting, capabilities, answers).
pub const MAX_DIALOGUE_BYTES: usize = 16 * 1024;

/// The most lines postura reads for one reply: an SMTP or FTP multi-line reply, the untagged
/// IMAP lines (`* …`) before the tagged answer to STARTTLS, or ManageSieve's capability lines.
/// Real servers send a handful (an EHLO reply has about ten lines); a peer that keeps sending
/// lines is refused at this cap rather than read until the byte cap.
pub const MAX_REPLY_LINES: usize = 64;

/// Which plaintext protocol to upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Starttls {
    Smtp,
    Imap,
    Pop3,
    Ftp,
    /// A client-to-server stream (`jabber:client`, port 5222).
    Xmpp,
    /// A server-to-server stream (`jabber:server`, port 5269).
    XmppServer,
    Ldap,
    Postgres,
    Mysql,
    Nntp,
    Sieve,
    Lmtp,
}

impl Starttls {
    /// XMPP's streams, the only dialogues that name the server's domain (`to`).
    pub const fn is_xmpp(self) -> bool {
        matches!(self, Starttls::Xmpp | Starttls::XmppServer)
    }
}

impl fmt::Display for Starttls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Starttls::Smtp => "SMTP",
            Starttls::Imap => "IMAP",
            Starttls::Pop3 => "POP3",
            Starttls::Ftp => "FTP",
            Starttls::Xmpp => "XMPP",
            Starttls::XmppServer => "XMPP server",
            Starttls::Ldap => "LDAP",
            Starttls::Postgres => "PostgreSQL",
            Starttls::Mysql => "MySQL",
            Starttls::Nntp => "NNTP",
            Starttls::Sieve => "ManageSieve",
            Starttls::Lmtp => "LMTP",
        })
    }
}

/// A peer's text, cut to 80 characters with control characters replaced, for error messages.
fn printable(line: &str) -> String {
    line.chars().take(80).map(|c| if c.is_control() { '?' } else { c }).collect()
}

fn unexpected(what: &str, line: &str) -> NetError {
    NetError::Protocol(format!("unexpected {what}: \"{}\"", printable(line)))
}

/// The server's refusal, quoted as it sent it.
fn refused(protocol: Starttls, reply: &str) -> NetError {
    NetError::StarttlsRefused { protocol, reply: format!("\"{}\"", printable(reply)) }
}

/// A refusal postura describes itself (no reply of the server's to quote).
fn not_offered(protocol: Starttls, why: &str) -> NetError {
    NetError::StarttlsRefused { protocol, reply: why.to_string() }
}

/// Run the dialogue; on success the next bytes on the connection are TLS. `domain` is the name
/// an XMPP stream is addressed to (`to`); the other protocols do not name the server.
pub async fn upgrade(connection: &mut Connection, protocol: Starttls, domain: Option<&str>) -> Result<(), NetError> {
    let mut reader = PeerReader::default();
    match protocol {
        Starttls::Smtp | Starttls::Lmtp => smtp::upgrade(&mut reader, connection, protocol).await?,
        Starttls::Imap => imap::upgrade(&mut reader, connection).await?,
        Starttls::Pop3 => pop3::upgrade(&mut reader, connection).await?,
        Starttls::Ftp => ftp::upgrade(&mut reader, connection).await?,
        Starttls::Nntp => nntp::upgrade(&mut reader, connection).await?,
        Starttls::Sieve => sieve::upgrade(&mut reader, connection).await?,
        Starttls::Xmpp | Starttls::XmppServer => xmpp::upgrade(&mut reader, connection, protocol, domain).await?,
        Starttls::Ldap => ldap::upgrade(&mut reader, connection).await?,
        Starttls::Postgres => postgres::upgrade(&mut reader, connection).await?,
        Starttls::Mysql => mysql::upgrade(&mut reader, connection).await?,
    }
    if !reader.is_empty() {
        return Err(NetError::Protocol("data after the STARTTLS reply".into()));
    }
    Ok(())
}
