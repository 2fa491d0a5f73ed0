//! Reading the server's next record after postura has sent a probe's own bytes, within a short
//! wait and a size cap: what the probes share.

use std::time::Duration;

use tokio::time::Instant;

use crate::net::{Connection, NetError};
use crate::tls::codec::{Alert, Record};

/// How long a probe waits for the server's reaction to one probe message. A patched server often
/// answers nothing at all (it drops a bad heartbeat silently), so the wait is short rather than
/// the whole connection timeout.
pub const REACTION_WAIT: Duration = Duration::from_secs(5);

/// What came back.
#[derive(Debug)]
pub enum Reaction {
    Record(Record),
    /// The server closed (or reset) the connection.
    Closed,
    /// Nothing within the wait.
    Silent,
}

/// Reads records from a connection, keeping what follows the last one.
#[derive(Debug, Default)]
pub struct RecordReader {
    buffer: Vec<u8>,
    received: usize,
}

impl RecordReader {
    /// The next record, within `REACTION_WAIT` (clipped to the connection's own time) and with
    /// at most `cap` bytes read over the reader's life.
    pub async fn next(&mut self, connection: &mut Connection, cap: usize) -> Result<Reaction, NetError> {
        let until = (Instant::now() + REACTION_WAIT).min(connection.expires);
        loop {
            match Record::decode(&self.buffer) {
                Ok(Some((record, consumed))) => {
                    self.buffer.drain(..consumed);
                    return Ok(Reaction::Record(record));
                }
                Ok(None) => {}
                Err(error) => return Err(NetError::Protocol(format!("not a TLS record: {error}"))),
            }
            let room = cap.saturating_sub(self.received) + self.buffer.len();
            let read = tokio::time::timeout_at(until, connection.receive(&mut self.buffer, room)).await;
            match read {
                Err(_) => return Ok(Reaction::Silent),
                Ok(Ok(0)) | Ok(Err(NetError::Reset)) | Ok(Err(NetError::Closed)) => return Ok(Reaction::Closed),
                Ok(Ok(n)) => self.received += n,
                Ok(Err(NetError::Timeout)) => return Ok(Reaction::Silent),
                Ok(Err(error)) => return Err(error),
            }
        }
    }
}

/// "alert:NAME" for an alert record, for evidence.
pub fn alert_text(record: &Record) -> String {
    match Alert::decode(&record.fragment) {
        Ok(alert) => format!("alert:{}", alert.description_name()),
        Err(_) => "an ill-formed alert".into(),
    }
}
