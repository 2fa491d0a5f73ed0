//! ManageSieve (RFC 5804 §1.7, §2.2): on connect the server lists its capabilities, one quoted
//! name (and value) a line, and ends the list with `OK`. `STARTTLS` must be among them (else a
//! refusal, and the command is not sent); `STARTTLS` is then answered by `OK` (upgrade) or `NO`
//! / `BYE` (refusal).

use super::reader::PeerReader;
use super::{not_offered, refused, unexpected, Starttls, MAX_REPLY_LINES};
use crate::net::{Connection, NetError};

/// One line of a ManageSieve server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SieveLine {
    /// A capability: its quoted name (e.g. `STARTTLS`, `SIEVE`), upper case.
    Capability(String),
    Ok,
    /// `NO …` or `BYE …`.
    No,
    /// Anything else.
    Other,
}

/// Classify one line of a ManageSieve answer. Pure, so that it can be fuzzed.
pub fn sieve_line(line: &str) -> SieveLine {
    if let Some(rest) = line.strip_prefix('"') {
        return match rest.split_once('"') {
            Some((name, _)) => SieveLine::Capability(name.to_ascii_uppercase()),
            None => SieveLine::Other,
        };
    }
    let word = line.split([' ', '(']).next().unwrap_or("").to_ascii_uppercase();
    match word.as_str() {
        "OK" => SieveLine::Ok,
        "NO" | "BYE" => SieveLine::No,
        _ => SieveLine::Other,
    }
}

pub(super) async fn upgrade(reader: &mut PeerReader, connection: &mut Connection) -> Result<(), NetError> {
    let mut starttls = false;
    let mut lines = 0;
    loop {
        if lines == MAX_REPLY_LINES {
            return Err(NetError::Protocol(format!("ManageSieve capabilities: no OK within {MAX_REPLY_LINES} lines")));
        }
        lines += 1;
        let line = reader.line(connection).await?;
        match sieve_line(&line) {
            SieveLine::Capability(name) => starttls |= name == "STARTTLS",
            SieveLine::Ok => break,
            SieveLine::No | SieveLine::Other => return Err(unexpected("ManageSieve greeting", &line)),
        }
    }
    if !starttls {
        return Err(not_offered(Starttls::Sieve, "not in the capabilities"));
    }
    connection.send(b"STARTTLS\r\n").await?;
    let reply = reader.line(connection).await?;
    match sieve_line(&reply) {
        SieveLine::Ok => Ok(()),
        SieveLine::No => Err(refused(Starttls::Sieve, &reply)),
        _ => Err(unexpected("STARTTLS reply", &reply)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_lines_and_answers() {
        assert_eq!(
            sieve_line("\"IMPLEMENTATION\" \"Dovecot Pigeonhole\""),
            SieveLine::Capability("IMPLEMENTATION".into())
        );
        assert_eq!(sieve_line("\"StartTLS\""), SieveLine::Capability("STARTTLS".into()));
        assert_eq!(sieve_line("OK \"Dovecot ready.\""), SieveLine::Ok);
        assert_eq!(sieve_line("ok"), SieveLine::Ok);
        assert_eq!(sieve_line("NO (QUOTA) \"no\""), SieveLine::No);
        assert_eq!(sieve_line("BYE \"Too many connections\""), SieveLine::No);
        assert_eq!(sieve_line("\"unterminated"), SieveLine::Other);
        assert_eq!(sieve_line("OKAY"), SieveLine::Other);
        assert_eq!(sieve_line(""), SieveLine::Other);
    }
}
