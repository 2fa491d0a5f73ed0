//! Property tests of DNS message handling: arbitrary and mutated answers never make the decoder
//! panic or hang (compression loops included), and queries postura builds decode back to what
//! was asked.

use postura::dns::wire::{decode_answer, encode_query, rtype, DecodeFailure, EdnsQuery, Question, CLASS_CH, CLASS_IN};
use proptest::collection::vec;
use proptest::prelude::*;

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9_-]{1,20}"
}

fn question() -> impl Strategy<Value = Question> {
    (
        vec(label(), 0..5),
        prop_oneof![Just(rtype::SOA), Just(rtype::NS), Just(rtype::DNSKEY), Just(rtype::TXT), any::<u16>()],
        prop_oneof![Just(CLASS_IN), Just(CLASS_CH)],
        any::<bool>(),
        proptest::option::of((
            any::<u8>(),
            512u16..=4096,
            any::<bool>(),
            0u16..0x8000,
            vec((any::<u16>(), vec(any::<u8>(), 0..16)), 0..3),
        )),
    )
        .prop_map(|(labels, qtype, class, rd, edns)| Question {
            name: if labels.is_empty() { ".".into() } else { labels.join(".") },
            qtype,
            class,
            recursion_desired: rd,
            checking_disabled: false,
            edns: edns.map(|(version, payload, dnssec_ok, z, options)| EdnsQuery {
                version,
                payload,
                dnssec_ok,
                z,
                options,
            }),
        })
}

/// A plausible answer to `query`: the query itself with QR set and `extra` appended and counted
/// as answer records, so that mutations land in every section.
fn answer_bytes(query: &[u8], extra: &[u8], answers: u16) -> Vec<u8> {
    let mut out = query.to_vec();
    out[2] |= 0x80;
    out[6..8].copy_from_slice(&answers.to_be_bytes());
    out.extend_from_slice(extra);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..600), id in any::<u16>()) {
        let _ = decode_answer(&bytes, id);
    }

    #[test]
    fn mutated_answers_never_panic(question in question(), extra in vec(any::<u8>(), 0..200), answers in 0u16..8,
                                   flips in vec((any::<usize>(), any::<u8>()), 0..6), cut in any::<usize>()) {
        let query = encode_query(0x4242, &question).unwrap();
        let mut bytes = answer_bytes(&query, &extra, answers);
        for (at, value) in flips {
            let len = bytes.len();
            bytes[at % len] ^= value;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        match decode_answer(&bytes, 0x4242) {
            Ok(answer) => prop_assert!(answer.size == bytes.len()),
            Err(DecodeFailure::TooShort(n)) => prop_assert!(n < 12),
            Err(_) => {}
        }
    }

    #[test]
    fn compression_pointers_anywhere_end(question in question(), targets in vec(any::<u16>(), 1..6)) {
        // An answer section made only of compression pointers (to themselves, forwards, or into
        // the header): decoding ends with a value or an error.
        let query = encode_query(7, &question).unwrap();
        let mut extra = Vec::new();
        for target in &targets {
            extra.extend_from_slice(&(0xc000 | (target & 0x3fff)).to_be_bytes());
            extra.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 127, 0, 0, 1]);
        }
        let bytes = answer_bytes(&query, &extra, targets.len() as u16);
        let _ = decode_answer(&bytes, 7);
    }

    #[test]
    fn queries_decode_to_what_was_asked(question in question(), id in any::<u16>()) {
        let bytes = encode_query(id, &question).unwrap();
        let message = hickory_proto::op::Message::from_vec(&bytes).unwrap();
        prop_assert_eq!(message.metadata.id, id);
        prop_assert_eq!(message.metadata.recursion_desired, question.recursion_desired);
        prop_assert_eq!(message.queries.len(), 1);
        let asked = &message.queries[0];
        prop_assert_eq!(u16::from(asked.query_type), question.qtype);
        prop_assert_eq!(u16::from(asked.query_class), question.class);
        let labels: Vec<String> = asked.name.iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect();
        let expected: Vec<String> = if question.name == "." { Vec::new() } else { question.name.split('.').map(String::from).collect() };
        prop_assert_eq!(labels, expected);
        prop_assert_eq!(message.edns.is_some(), question.edns.is_some());
        if let (Some(sent), Some(decoded)) = (&question.edns, &message.edns) {
            prop_assert_eq!(decoded.max_payload(), sent.payload.max(512));
            prop_assert_eq!(decoded.flags().dnssec_ok, sent.dnssec_ok);
        }
    }
}
