//! Property tests of the STARTTLS dialogues' pure parsers (src/starttls/): on any bytes they
//! return a value, "incomplete" or an error — never a panic, never more bytes than given — and
//! a well-formed answer cut anywhere is "incomplete", never an error, so a slow server is read
//! on rather than refused. The fuzz target `starttls_reply` explores the same parsers longer.

use postura::starttls::{
    extended_response, server_greeting, sieve_line, smtp_reply_line, starttls_answer, stream_features, SieveLine,
};
use proptest::collection::vec;
use proptest::prelude::*;

const FEATURES: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:server' \
    xmlns:stream='http://etherx.jabber.org/streams' from='postura.test' version='1.0'>\
    <stream:features><dialback xmlns='urn:xmpp:features:dialback'/>\
    <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>";

proptest! {
    #[test]
    fn any_bytes_end_in_a_value_or_an_error(bytes in vec(any::<u8>(), 0..600)) {
        if let Ok(Some((_, used))) = stream_features(&bytes) {
            prop_assert!(used <= bytes.len());
        }
        if let Ok(Some((_, used))) = starttls_answer(&bytes) {
            prop_assert!(used <= bytes.len());
        }
        if let Ok(Some((_, used))) = extended_response(&bytes) {
            prop_assert!(used <= bytes.len());
        }
        if let Ok(Some((_, used))) = server_greeting(&bytes) {
            prop_assert!(used <= bytes.len());
        }
        let text = String::from_utf8_lossy(&bytes);
        for line in text.split('\n') {
            if let Ok((code, rest, _)) = smtp_reply_line(line) {
                prop_assert!(code <= 999 && rest.len() <= line.len());
            }
            if let SieveLine::Capability(name) = sieve_line(line) {
                prop_assert!(name.len() < line.len());
            }
        }
    }

    #[test]
    fn xmpp_features_with_noise_after_them_still_parse(tail in vec(any::<u8>(), 0..200)) {
        let mut bytes = FEATURES.as_bytes().to_vec();
        bytes.extend_from_slice(&tail);
        prop_assert_eq!(stream_features(&bytes), Ok(Some((true, FEATURES.len()))));
    }

    #[test]
    /// Short-form lengths only (every length under 128).
    fn ber_responses_cut_anywhere_are_incomplete(diagnostic in "[ -~]{0,100}", code in 0u8..=90) {
        let mut operation = vec![0x0a, 0x01, code, 0x04, 0x00, 0x04, diagnostic.len() as u8];
        operation.extend_from_slice(diagnostic.as_bytes());
        let mut message = vec![0x02, 0x01, 0x01, 0x78, operation.len() as u8];
        message.extend_from_slice(&operation);
        let mut bytes = vec![0x30, message.len() as u8];
        bytes.extend_from_slice(&message);
        let (response, used) = extended_response(&bytes).unwrap().unwrap();
        prop_assert_eq!((response.result_code, used), (u32::from(code), bytes.len()));
        prop_assert_eq!(response.diagnostic, diagnostic);
        for cut in 0..bytes.len() {
            prop_assert_eq!(extended_response(&bytes[..cut]), Ok(None));
        }
    }
}

#[test]
fn xmpp_features_cut_anywhere_are_incomplete() {
    for cut in 0..FEATURES.len() {
        assert_eq!(stream_features(&FEATURES.as_bytes()[..cut]), Ok(None), "prefix of {cut} bytes");
    }
}
