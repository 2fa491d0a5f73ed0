//! XMPP (RFC 6120 §5): postura opens a stream to the target's domain (`jabber:client` on 5222,
//! `jabber:server` on 5269), reads the server's stream header and features, sends
//! `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>` and waits for `<proceed/>`.
//! Refusals: no `starttls` among the features (the element is then not sent), or `<failure/>`.
//! A `<stream:error>` (e.g. `host-unknown` for a domain the server does not serve) is a
//! protocol error that names the condition.
//!
//! The XML is read with quick-xml, namespace-aware (a server may use any prefix), and only up
//! to the last `>` received so far: a truncated tag means "read more", never an error. The
//! stream's own element never closes, so no document-level check applies.

use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::NsReader;

use super::reader::PeerReader;
use super::{not_offered, Starttls};
use crate::net::{Connection, NetError};

const STREAMS_NS: &[u8] = b"http://etherx.jabber.org/streams";
const TLS_NS: &[u8] = b"urn:ietf:params:xml:ns:xmpp-tls";
const STARTTLS_ELEMENT: &[u8] = b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";

/// The server's answer to `<starttls/>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmppAnswer {
    Proceed,
    Failure,
}

pub(super) async fn upgrade(
    reader: &mut PeerReader,
    connection: &mut Connection,
    protocol: Starttls,
    domain: Option<&str>,
) -> Result<(), NetError> {
    let namespace = if protocol == Starttls::XmppServer { "jabber:server" } else { "jabber:client" };
    let to = domain.map(|d| format!(" to='{}'", quick_xml::escape::escape(d))).unwrap_or_default();
    let header = format!(
        "<?xml version='1.0'?><stream:stream xmlns='{namespace}' \
         xmlns:stream='http://etherx.jabber.org/streams'{to} version='1.0'>"
    );
    connection.send(header.as_bytes()).await?;
    let offered = loop {
        match stream_features(&reader.buffer).map_err(xmpp_error)? {
            Some((offered, used)) => {
                reader.consume(used);
                break offered;
            }
            None => reader.fill(connection).await?,
        }
    };
    if !offered {
        return Err(not_offered(protocol, "not in the stream features"));
    }
    connection.send(STARTTLS_ELEMENT).await?;
    loop {
        match starttls_answer(&reader.buffer).map_err(xmpp_error)? {
            Some((XmppAnswer::Proceed, used)) => {
                reader.consume(used);
                return Ok(());
            }
            Some((XmppAnswer::Failure, _)) => {
                reader.buffer.clear();
                return Err(not_offered(protocol, "\"<failure/>\""));
            }
            None => reader.fill(connection).await?,
        }
    }
}

fn xmpp_error(detail: String) -> NetError {
    NetError::Protocol(format!("XMPP {detail}"))
}

/// The bytes up to and including the last `>`: whole tags only.
fn whole_tags(bytes: &[u8]) -> &[u8] {
    match bytes.iter().rposition(|b| *b == b'>') {
        Some(end) => &bytes[..=end],
        None => &[],
    }
}

/// The namespaces the dialogue tells apart.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ns {
    Streams,
    Tls,
    Other,
}

fn namespace(ns: &ResolveResult) -> Ns {
    match ns {
        ResolveResult::Bound(Namespace(n)) if *n == STREAMS_NS => Ns::Streams,
        ResolveResult::Bound(Namespace(n)) if *n == TLS_NS => Ns::Tls,
        _ => Ns::Other,
    }
}

/// The server's stream header and features: `Ok(None)` while incomplete, else whether
/// `starttls` is among the features and how many bytes that took. Pure, so that it can be
/// fuzzed.
pub fn stream_features(bytes: &[u8]) -> Result<Option<(bool, usize)>, String> {
    let mut reader = NsReader::from_reader(whole_tags(bytes));
    let mut depth = 0usize;
    let (mut in_features, mut in_error, mut starttls) = (false, false, false);
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|e| format!("stream is not XML: {e}"))?;
        let ns = namespace(&ns);
        let used = reader.buffer_position() as usize;
        let (element, empty) = match &event {
            Event::Start(element) => (element, false),
            Event::Empty(element) => (element, true),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Err("stream closed by the server".into());
                }
                if depth == 1 && in_features {
                    return Ok(Some((starttls, used)));
                }
                if depth == 1 && in_error {
                    return Err("stream error".into());
                }
                continue;
            }
            Event::Eof => return Ok(None),
            _ => continue,
        };
        let local = element.local_name();
        let local = local.as_ref();
        match depth {
            0 if local == b"stream" && ns == Ns::Streams && !empty => {}
            0 => return Err(format!("stream header expected, got <{}>", String::from_utf8_lossy(local))),
            1 if local == b"features" && ns == Ns::Streams => {
                if empty {
                    return Ok(Some((false, used)));
                }
                in_features = true;
            }
            1 if local == b"error" && ns == Ns::Streams => {
                if empty {
                    return Err("stream error".into());
                }
                in_error = true;
            }
            2 if in_error => return Err(format!("stream error: {}", String::from_utf8_lossy(local))),
            2 if in_features && local == b"starttls" && ns == Ns::Tls => starttls = true,
            _ => {}
        }
        if !empty {
            depth += 1;
        }
    }
}

/// The server's answer to `<starttls/>` (after its features): `Ok(None)` while incomplete,
/// else `proceed` or `failure` and how many bytes that took. Pure, so that it can be fuzzed.
pub fn starttls_answer(bytes: &[u8]) -> Result<Option<(XmppAnswer, usize)>, String> {
    let mut reader = NsReader::from_reader(whole_tags(bytes));
    // The answer is a fragment of the stream opened earlier: `</stream:stream>` closes what
    // this reader never saw open.
    reader.config_mut().check_end_names = false;
    let mut open: Option<XmppAnswer> = None;
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|e| format!("answer is not XML: {e}"))?;
        let ns = namespace(&ns);
        let used = reader.buffer_position() as usize;
        let (element, empty) = match &event {
            Event::Start(element) => (element, false),
            Event::Empty(element) => (element, true),
            Event::End(end) => match open {
                Some(answer) if end.local_name().as_ref() == b"proceed" || answer == XmppAnswer::Failure => {
                    return Ok(Some((answer, used)))
                }
                _ => return Err("stream closed by the server".into()),
            },
            Event::Eof => return Ok(None),
            Event::Text(text) if open.is_none() && !text.iter().all(u8::is_ascii_whitespace) => {
                return Err("text instead of an answer to <starttls/>".into())
            }
            _ => continue,
        };
        let local = element.local_name();
        let answer = match local.as_ref() {
            b"proceed" if ns == Ns::Tls => XmppAnswer::Proceed,
            b"failure" if ns == Ns::Tls => XmppAnswer::Failure,
            b"error" => return Err("stream error".into()),
            other => return Err(format!("unexpected answer to <starttls/>: <{}>", String::from_utf8_lossy(other))),
        };
        if empty || answer == XmppAnswer::Failure {
            return Ok(Some((answer, used)));
        }
        open = Some(answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEATURES: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' \
        xml:lang='en' id='x1' from='postura.test' version='1.0' xmlns='jabber:client'><stream:features>\
        <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>";

    #[test]
    fn features_parse_and_every_prefix_is_incomplete() {
        assert_eq!(stream_features(FEATURES), Ok(Some((true, FEATURES.len()))));
        for cut in 0..FEATURES.len() {
            assert_eq!(stream_features(&FEATURES[..cut]), Ok(None), "prefix of {cut} bytes");
        }
        let mut more = FEATURES.to_vec();
        more.extend_from_slice(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        assert_eq!(stream_features(&more), Ok(Some((true, FEATURES.len()))));
    }

    #[test]
    fn features_without_starttls_and_stream_errors() {
        let header = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'>";
        let plain = format!(
            "{header}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></stream:features>"
        );
        assert_eq!(stream_features(plain.as_bytes()), Ok(Some((false, plain.len()))));
        let empty = format!("{header}<stream:features/>");
        assert_eq!(stream_features(empty.as_bytes()), Ok(Some((false, empty.len()))));
        // A starttls element in another namespace is not the TLS feature.
        let other = format!("{header}<stream:features><starttls xmlns='urn:example'/></stream:features>");
        assert_eq!(stream_features(other.as_bytes()), Ok(Some((false, other.len()))));
        let error =
            format!("{header}<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>");
        assert_eq!(stream_features(error.as_bytes()), Err("stream error: host-unknown".into()));
        assert!(stream_features(b"<html><body>").is_err());
        assert!(stream_features(format!("{header}</stream:stream>").as_bytes()).is_err());
    }

    #[test]
    fn answers_to_starttls() {
        let proceed = b" <proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
        assert_eq!(starttls_answer(proceed), Ok(Some((XmppAnswer::Proceed, proceed.len()))));
        for cut in 0..proceed.len() {
            assert_eq!(starttls_answer(&proceed[..cut]), Ok(None), "prefix of {cut} bytes");
        }
        let long = b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'></proceed>";
        assert_eq!(starttls_answer(long), Ok(Some((XmppAnswer::Proceed, long.len()))));
        let failure = b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>";
        assert!(matches!(starttls_answer(failure), Ok(Some((XmppAnswer::Failure, _)))));
        assert!(starttls_answer(b"</stream:stream>").is_err());
        assert!(starttls_answer(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>").is_err());
        assert!(starttls_answer(b"hello>").is_err());
    }
}
