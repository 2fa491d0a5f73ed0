//! Round-trip, truncation, trailing-byte and known-answer tests for every codec message.

use super::*;
use std::fmt::Debug;

/// Bytes from hex digits; whitespace is ignored so literals can be grouped by field.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len() % 2 == 0, "odd number of hex digits");
    digits.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
}

/// Every strict prefix of `bytes` must fail to decode.
fn assert_prefixes_fail<T: Debug>(bytes: &[u8], decode: impl Fn(&[u8]) -> Result<T, CodecError>) {
    for n in 0..bytes.len() {
        let result = decode(&bytes[..n]);
        assert!(result.is_err(), "prefix of {n}/{} bytes decoded: {result:?}", bytes.len());
    }
}

/// Every strict prefix of `bytes` must ask for more input.
fn assert_prefixes_incomplete<T: Debug>(bytes: &[u8], decode: impl Fn(&[u8]) -> Result<Option<T>, CodecError>) {
    for n in 0..bytes.len() {
        let result = decode(&bytes[..n]);
        assert!(matches!(result, Ok(None)), "prefix of {n}/{} bytes: {result:?}", bytes.len());
    }
}

fn assert_invalid<T: Debug>(result: Result<T, CodecError>) {
    assert!(matches!(result, Err(CodecError::Invalid { .. })), "expected Invalid, got {result:?}");
}

fn with_trailing(bytes: &[u8]) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v.push(0);
    v
}

// ---------------------------------------------------------------------------------------------
// ClientHello

fn all_extensions() -> Vec<ClientExtension> {
    vec![
        ClientExtension::ServerName("mail.example.net".into()),
        ClientExtension::SupportedGroups(vec![0x001d, 0x0017, 0x0018, 0x0100]),
        ClientExtension::EcPointFormats(vec![0, 1, 2]),
        ClientExtension::SignatureAlgorithms(vec![0x0403, 0x0804, 0x0401, 0x0201]),
        ClientExtension::SupportedVersions(vec![0x0304, 0x0303, 0x0302]),
        ClientExtension::KeyShare(vec![(0x001d, vec![0x11; 32]), (0x0017, vec![0x04; 65])]),
        ClientExtension::PskKeyExchangeModes(vec![1]),
        ClientExtension::RenegotiationInfo(vec![]),
        ClientExtension::SessionTicket(vec![]),
        ClientExtension::StatusRequest,
        ClientExtension::Alpn(vec![b"h2".to_vec(), b"http/1.1".to_vec()]),
        ClientExtension::Heartbeat(1),
        ClientExtension::ExtendedMasterSecret,
        ClientExtension::EncryptThenMac,
        ClientExtension::Padding(17),
        ClientExtension::Unknown { extension_type: 0x4469, data: vec![1, 2, 3] },
    ]
}

/// Variants with the other interesting contents (empty vs non-empty).
fn extra_extensions() -> Vec<ClientExtension> {
    vec![
        ClientExtension::KeyShare(vec![]),
        ClientExtension::RenegotiationInfo(vec![0xab; 12]),
        ClientExtension::SessionTicket(vec![0x5a; 40]),
        ClientExtension::Padding(0),
        ClientExtension::Alpn(vec![]),
        ClientExtension::ServerName(String::new()),
        ClientExtension::Unknown { extension_type: 0xfe0d, data: vec![] },
    ]
}

fn hello(extensions: Option<Vec<ClientExtension>>) -> ClientHello {
    let mut random = [0u8; 32];
    for (i, b) in random.iter_mut().enumerate() {
        *b = i as u8 * 7;
    }
    ClientHello {
        record_version: 0x0301,
        client_version: 0x0303,
        random,
        session_id: vec![0xaa; 32],
        cipher_suites: vec![0x1301, 0x1302, 0xc02f, 0x009e, 0x00ff],
        compression_methods: vec![0],
        extensions,
    }
}

fn check_client_hello(h: &ClientHello) {
    let bytes = h.encode_handshake();
    assert_eq!(ClientHello::decode_handshake(&bytes).as_ref(), Ok(h));
    assert_prefixes_fail(&bytes, ClientHello::decode_handshake);
    assert_invalid(ClientHello::decode_handshake(&with_trailing(&bytes)));
}

#[test]
fn client_hello_with_every_extension_round_trips() {
    check_client_hello(&hello(Some(all_extensions())));
    check_client_hello(&hello(Some(extra_extensions())));
}

#[test]
fn client_hello_each_extension_alone_round_trips() {
    for e in all_extensions().into_iter().chain(extra_extensions()) {
        check_client_hello(&hello(Some(vec![e])));
    }
}

#[test]
fn client_hello_without_or_with_empty_extension_block_round_trips() {
    let mut sslv3 = hello(None);
    sslv3.record_version = 0x0300;
    sslv3.client_version = 0x0300;
    sslv3.session_id.clear();
    check_client_hello(&sslv3);
    check_client_hello(&hello(Some(vec![])));
    // The two are told apart on the wire: "no block" is 2 bytes shorter than "empty block".
    assert_eq!(hello(None).encode_handshake().len() + 2, hello(Some(vec![])).encode_handshake().len());
}

#[test]
fn client_hello_known_answer() {
    let h = ClientHello {
        record_version: 0x0301,
        client_version: 0x0303,
        random: [0x01; 32],
        session_id: vec![],
        cipher_suites: vec![0xc02f],
        compression_methods: vec![0],
        extensions: Some(vec![
            ClientExtension::ServerName("a.b".into()),
            ClientExtension::StatusRequest,
            ClientExtension::SupportedVersions(vec![0x0304]),
            ClientExtension::KeyShare(vec![(0x001d, vec![0xee; 2])]),
            ClientExtension::Alpn(vec![b"h2".to_vec()]),
            ClientExtension::Heartbeat(1),
            ClientExtension::ExtendedMasterSecret,
            ClientExtension::Padding(2),
        ]),
    };
    let expected = hex(&format!(
        "01 00006b 0303 {} 00 0002 c02f 01 00 0040 {} {} {} {} {} {} {} {}",
        "01".repeat(32),
        "0000 0008 0006 00 0003 612e62",
        "0005 0005 01 0000 0000",
        "002b 0003 02 0304",
        "0033 0008 0006 001d 0002 eeee",
        "0010 0005 0003 02 6832",
        "000f 0001 01",
        "0017 0000",
        "0015 0002 0000",
    ));
    assert_eq!(h.encode_handshake(), expected);
    assert_eq!(ClientHello::decode_handshake(&expected), Ok(h.clone()));
    // Short message: no F5 padding, one record.
    let mut record = hex("16 0301 006f");
    record.extend_from_slice(&expected);
    assert_eq!(h.encode_record(), record);
}

#[test]
fn client_hello_rejects_bad_values() {
    let good = hello(Some(vec![])).encode_handshake();
    // Wrong handshake type.
    let mut wrong_type = good.clone();
    wrong_type[0] = handshake_type::SERVER_HELLO;
    assert_invalid(ClientHello::decode_handshake(&wrong_type));
    // Session id longer than 32 bytes.
    let mut long_sid = hello(Some(vec![]));
    long_sid.session_id = vec![1; 33];
    assert_invalid(ClientHello::decode_handshake(&long_sid.encode_handshake()));
    // Odd cipher suite length, no suites, no compression methods.
    let mut odd = hello(None);
    odd.cipher_suites.clear();
    assert_invalid(ClientHello::decode_handshake(&odd.encode_handshake()));
    let mut no_comp = hello(None);
    no_comp.compression_methods.clear();
    assert_invalid(ClientHello::decode_handshake(&no_comp.encode_handshake()));
    // A known extension with data postura would never write.
    for (ty, data) in [
        (extension_type::STATUS_REQUEST, vec![1, 0, 0]),
        (extension_type::EXTENDED_MASTER_SECRET, vec![0]),
        (extension_type::PADDING, vec![0, 1]),
        (extension_type::SERVER_NAME, hex("0004 01 0001 61")),
        (extension_type::SUPPORTED_VERSIONS, hex("03 0304 03")),
        (extension_type::HEARTBEAT, vec![]),
        (extension_type::SUPPORTED_GROUPS, hex("0004 001d")),
    ] {
        let h = hello(Some(vec![ClientExtension::Unknown { extension_type: ty, data }]));
        assert_invalid(ClientHello::decode_handshake(&h.encode_handshake()));
    }
}

#[test]
fn client_hello_padding_reaches_512_bytes() {
    let filler = |n: usize| ClientExtension::Unknown { extension_type: 0x1234, data: vec![0x61; n] };
    let base = hello(Some(vec![filler(0)])).encode_handshake().len();
    for target in [256, 300, 400, 507] {
        let h = hello(Some(vec![filler(target - base)]));
        assert_eq!(h.encode_handshake().len(), target);
        let records = h.encode_record();
        assert_eq!(records.len(), 5 + 512, "message of {target} bytes");
        assert_eq!(&records[..5], &[0x16, 0x03, 0x01, 0x02, 0x00]);
        let decoded = ClientHello::decode_handshake(&records[5..]).unwrap();
        let mut expected = h.clone();
        if let Some(e) = expected.extensions.as_mut() {
            e.push(ClientExtension::Padding(512 - target - 4));
        }
        assert_eq!(decoded, expected);
    }
    // 508..=511 cannot reach 512 without an empty (508) or impossible (509+) padding extension:
    // one byte of padding, as OpenSSL adds, moves them past 511.
    for target in [508, 509, 511] {
        let h = hello(Some(vec![filler(target - base)]));
        let records = h.encode_record();
        assert_eq!(records.len(), 5 + target + 5);
        let decoded = ClientHello::decode_handshake(&records[5..]).unwrap();
        assert_eq!(decoded.extensions.unwrap().last(), Some(&ClientExtension::Padding(1)));
    }
    // Outside the range, with a Padding already present, or without extensions: untouched.
    for target in [255, 512, 600] {
        let h = hello(Some(vec![filler(target - base)]));
        assert_eq!(h.encode_record().len(), 5 + target);
    }
    let padded = hello(Some(vec![filler(300 - base - 4), ClientExtension::Padding(0)]));
    assert_eq!(padded.encode_handshake().len(), 300);
    assert_eq!(padded.encode_record().len(), 5 + 300);
    let mut no_block = hello(None);
    no_block.cipher_suites = vec![0x0035; 120];
    let len = no_block.encode_handshake().len();
    assert!((256..512).contains(&len));
    assert_eq!(no_block.encode_record().len(), 5 + len);
}

#[test]
fn client_hello_larger_than_a_record_is_split() {
    let h = hello(Some(vec![ClientExtension::Unknown { extension_type: 0x1234, data: vec![7; 40000] }]));
    let message = h.encode_handshake();
    let bytes = h.encode_record();
    let mut reassembler = HandshakeReassembler::new(1 << 16);
    let mut offset = 0;
    let mut sizes = Vec::new();
    while offset < bytes.len() {
        let (record, used) = Record::decode(&bytes[offset..]).unwrap().unwrap();
        assert_eq!((record.content_type, record.version), (content_type::HANDSHAKE, 0x0301));
        sizes.push(record.fragment.len());
        reassembler.push(&record.fragment);
        offset += used;
    }
    assert_eq!(sizes, vec![16384, 16384, message.len() - 2 * 16384]);
    let m = reassembler.next_message().unwrap().unwrap();
    assert_eq!(m.encode(), message);
    assert_eq!(ClientHello::decode_handshake(&m.encode()), Ok(h));
}

// ---------------------------------------------------------------------------------------------
// SSLv2

#[test]
fn sslv2_client_hello_known_answer_and_round_trip() {
    let challenge: [u8; 16] = core::array::from_fn(|i| i as u8);
    let bytes = encode_sslv2_client_hello(&[0x010080, 0x0700c0], &challenge);
    let expected = hex("801f 01 0002 0006 0000 0010 010080 0700c0 000102030405060708090a0b0c0d0e0f");
    assert_eq!(bytes, expected);
    assert_eq!(decode_sslv2_client_hello(&bytes), Ok((2, vec![0x010080, 0x0700c0], challenge.to_vec())));
    assert_prefixes_fail(&bytes, decode_sslv2_client_hello);
    assert_invalid(decode_sslv2_client_hello(&with_trailing(&bytes)));
}

#[test]
fn sslv2_client_hello_many_specs() {
    let specs: Vec<u32> = (0..20000).map(|i| i * 3 + 1).collect();
    let bytes = encode_sslv2_client_hello(&specs, &[9; 16]);
    let (_, decoded, _) = decode_sslv2_client_hello(&bytes).unwrap();
    assert_eq!(decoded.len(), 10914);
    assert_eq!(decoded[..], specs[..10914]);
}

fn sslv2_server_hello() -> Sslv2ServerHello {
    Sslv2ServerHello {
        session_id_hit: 0,
        certificate_type: 1,
        version: 0x0002,
        certificate: hex("3082000a 3006 020102 020101 0000"),
        cipher_specs: vec![0x010080, 0x020080, 0x030080, 0x040080, 0x050080, 0x060040, 0x0700c0],
        connection_id: vec![0xc1; 16],
    }
}

#[test]
fn sslv2_server_hello_round_trip() {
    let h = sslv2_server_hello();
    let bytes = h.encode_record();
    assert_eq!(bytes[0] & 0x80, 0x80);
    assert_eq!(Sslv2ServerHello::decode_record(&bytes), Ok(Some((h.clone(), bytes.len()))));
    assert_prefixes_incomplete(&bytes, Sslv2ServerHello::decode_record);
    // What follows the record is the next record's business.
    let mut two = bytes.clone();
    two.extend_from_slice(&bytes);
    assert_eq!(Sslv2ServerHello::decode_record(&two), Ok(Some((h.clone(), bytes.len()))));
    // Bytes inside the record after the connection id are not.
    let mut inner = bytes[2..].to_vec();
    inner.push(0);
    let mut padded_out = vec![0x80 | (inner.len() >> 8) as u8, inner.len() as u8];
    padded_out.extend_from_slice(&inner);
    assert_invalid(Sslv2ServerHello::decode_record(&padded_out));
}

#[test]
fn sslv2_server_hello_with_three_byte_header() {
    let h = sslv2_server_hello();
    let message = h.encode_record()[2..].to_vec();
    let padding = 5usize;
    let length = message.len() + padding;
    let mut bytes = vec![(length >> 8) as u8 & 0x3f, length as u8, padding as u8];
    bytes.extend_from_slice(&message);
    bytes.extend_from_slice(&[0; 5]);
    assert_eq!(Sslv2ServerHello::decode_record(&bytes), Ok(Some((h, bytes.len()))));
    assert_prefixes_incomplete(&bytes, Sslv2ServerHello::decode_record);
    // Padding longer than the record.
    assert_invalid(Sslv2ServerHello::decode_record(&hex("00 02 03 0400")));
}

#[test]
fn sslv2_server_hello_rejects_tls_error_and_bad_specs() {
    // A TLS handshake_failure alert, and a TLS ServerHello record.
    assert_invalid(Sslv2ServerHello::decode_record(&hex("15 0301 0002 0228")));
    assert_invalid(Sslv2ServerHello::decode_record(&hex("15 03")));
    assert_invalid(Sslv2ServerHello::decode_record(&hex("16 0303 0050")));
    // SSLv2 ERROR (NO-CIPHER-ERROR).
    assert_invalid(Sslv2ServerHello::decode_record(&hex("8003 00 0001")));
    // An empty record, and a CLIENT-HELLO where a SERVER-HELLO belongs.
    assert_invalid(Sslv2ServerHello::decode_record(&hex("8000")));
    assert_invalid(Sslv2ServerHello::decode_record(&encode_sslv2_client_hello(&[0x010080], &[0; 16])));
    // cipher_specs_length 4.
    assert_invalid(Sslv2ServerHello::decode_record(&hex("800f 04 00 01 0002 0000 0004 0000 01008002")));
}

// ---------------------------------------------------------------------------------------------
// ServerHello and HelloRetryRequest

fn raw(extension_type: u16, data: &str) -> RawExtension {
    RawExtension { extension_type, data: hex(data) }
}

fn tls12_server_hello() -> ServerHello {
    ServerHello {
        legacy_version: 0x0303,
        random: [0x42; 32],
        session_id: vec![0x55; 32],
        cipher_suite: 0xc02f,
        compression_method: 0,
        extensions: Some(vec![
            raw(extension_type::RENEGOTIATION_INFO, "00"),
            raw(extension_type::EC_POINT_FORMATS, "03 000102"),
            raw(extension_type::EXTENDED_MASTER_SECRET, ""),
            raw(extension_type::ALPN, "0003 02 6832"),
            raw(extension_type::HEARTBEAT, "01"),
        ]),
    }
}

fn hrr() -> ServerHello {
    ServerHello {
        legacy_version: 0x0303,
        random: HELLO_RETRY_REQUEST_RANDOM,
        session_id: vec![0x13; 32],
        cipher_suite: 0x1301,
        compression_method: 0,
        extensions: Some(vec![raw(extension_type::SUPPORTED_VERSIONS, "0304"), raw(extension_type::KEY_SHARE, "0017")]),
    }
}

/// Length of a ServerHello body up to and including compression_method (32-byte session id).
const SERVER_HELLO_FIXED: usize = 2 + 32 + 1 + 32 + 2 + 1;

fn check_server_hello(h: &ServerHello) {
    let body = h.encode();
    assert_eq!(ServerHello::decode(&body).as_ref(), Ok(h));
    for n in 0..body.len() {
        match ServerHello::decode(&body[..n]) {
            Err(_) => {}
            // A body is only delimited by its length: cut just before the extensions block, it
            // is a well-formed ServerHello without extensions (the one ambiguity of the format).
            Ok(cut) => {
                assert_eq!(n, SERVER_HELLO_FIXED - 32 + h.session_id.len());
                assert_eq!(cut.extensions, None);
                assert!(h.extensions.is_some());
            }
        }
    }
    if h.extensions.is_some() {
        assert_invalid(ServerHello::decode(&with_trailing(&body)));
    } else {
        // One more byte is the start of an extensions block that never comes.
        assert!(ServerHello::decode(&with_trailing(&body)).is_err());
    }
    // With its handshake header every cut is detected.
    let message = HandshakeMessage { handshake_type: handshake_type::SERVER_HELLO, body }.encode();
    assert_prefixes_fail(&message, HandshakeMessage::decode);
}

#[test]
fn server_hello_round_trips() {
    check_server_hello(&tls12_server_hello());
    check_server_hello(&hrr());
    let mut bare = tls12_server_hello();
    bare.extensions = None;
    check_server_hello(&bare);
    bare.extensions = Some(vec![]);
    check_server_hello(&bare);
    bare.session_id.clear();
    check_server_hello(&bare);
}

#[test]
fn server_hello_accessors() {
    let h = tls12_server_hello();
    assert!(!h.is_hello_retry_request());
    assert_eq!(h.selected_version(), Ok(0x0303));
    assert_eq!(h.key_share_group(), Ok(None));
    assert_eq!(h.alpn_protocol(), Ok(Some(b"h2".to_vec())));
    assert_eq!(h.heartbeat_mode(), Ok(Some(1)));
    assert_eq!(h.extension(extension_type::EC_POINT_FORMATS).map(|e| e.data.len()), Some(4));

    let r = hrr();
    assert!(r.is_hello_retry_request());
    assert_eq!(r.selected_version(), Ok(0x0304));
    assert_eq!(r.key_share_group(), Ok(Some(0x0017)));
    assert_eq!(r.alpn_protocol(), Ok(None));
    assert_eq!(r.heartbeat_mode(), Ok(None));
}

#[test]
fn server_hello_accessors_reject_ill_formed_extensions() {
    let with = |hrr_random: bool, extension: RawExtension| {
        let mut h = tls12_server_hello();
        if hrr_random {
            h.random = HELLO_RETRY_REQUEST_RANDOM;
        }
        h.extensions = Some(vec![extension]);
        h
    };
    for data in ["", "03", "030400", "02 0304"] {
        assert_invalid(with(false, raw(extension_type::SUPPORTED_VERSIONS, data)).selected_version());
    }
    // ServerHello key_share: group + key; an HRR key_share: group only.
    for data in ["001d", "001d 0000", "001d 0002 aa", "001d 0001 aa bb"] {
        assert_invalid(with(false, raw(extension_type::KEY_SHARE, data)).key_share_group());
    }
    assert_eq!(with(false, raw(extension_type::KEY_SHARE, "001d 0002 aabb")).key_share_group(), Ok(Some(29)));
    for data in ["", "00", "001d 00"] {
        assert_invalid(with(true, raw(extension_type::KEY_SHARE, data)).key_share_group());
    }
    for data in ["", "0000", "0001 00", "0006 02 6832 02 6833", "0003 02 6832 00", "0004 02 6832", "0003 03 6832"] {
        assert_invalid(with(false, raw(extension_type::ALPN, data)).alpn_protocol());
    }
    for data in ["", "0101"] {
        assert_invalid(with(false, raw(extension_type::HEARTBEAT, data)).heartbeat_mode());
    }
}

#[test]
fn server_hello_rejects_bad_lengths() {
    let body = tls12_server_hello().encode();
    // Session id length 33.
    let mut sid = body.clone();
    sid[34] = 33;
    assert!(ServerHello::decode(&sid).is_err());
    // Extension block whose last extension overruns it.
    let mut overrun = body.clone();
    let last = overrun.len() - 2; // the heartbeat extension's length field, low byte
    overrun[last] = 2;
    assert_invalid(ServerHello::decode(&overrun));
    // A lone byte where the extensions block length belongs.
    let mut lone = body[..SERVER_HELLO_FIXED].to_vec();
    lone.push(0);
    assert_eq!(ServerHello::decode(&lone), Err(CodecError::Truncated("ServerHello")));
}

/// A TLS 1.2 first flight in one record, as OpenSSL 1.1.1/3.x sends it for ECDHE-RSA-AES128-GCM
/// with ALPN http/1.1 (hand-written; DER and signature are short placeholders, since the codec
/// never looks inside them).
const OPENSSL_TLS12_FLIGHT: &str = concat!(
    "16 0303 00cd",                                                                // record
    "02 00006c",                                                                   // ServerHello
    "0303",                                                                        // TLS 1.2
    "662d9a1cf703b84e51c027e98a36f4120b7de598a2643cd1 444f574e47524401",           // random, DOWNGRD
    "20 3e8b0f5ac271d926a41388e05c97b62f70d419ab63fe02c8954d31e78c5ba016",         // session id
    "c02f 00",                                                                     // suite, null
    "0024",                                                                        // extensions
    "ff01 0001 00",                                                                // reneg info
    "000b 0004 03 000102",                                                         // point formats
    "0023 0000",                                                                   // session ticket
    "0010 000b 0009 08 687474702f312e31",                                          // ALPN http/1.1
    "0017 0000",                                                                   // EMS
    "0b 000021 00001e",                                                            // Certificate
    "00000e 300c300a020102020500c39f217e",                                         // leaf
    "00000a 30083006020102020101",                                                 // intermediate
    "0c 000030",                                                                   // ServerKeyExchange
    "03 001d 20 9fd7ad6dcff4298dd3f96d5b1b2af910a0535b1488d7f8fabb349a982880b615", // x25519
    "0403 0008 3006020101020101",                                                  // signature
    "0e 000000",                                                                   // ServerHelloDone
);

#[test]
fn captured_openssl_tls12_flight() {
    let bytes = hex(OPENSSL_TLS12_FLIGHT);
    let (record, used) = Record::decode(&bytes).unwrap().unwrap();
    assert_eq!(used, bytes.len());
    assert_eq!((record.content_type, record.version, record.fragment.len()), (22, 0x0303, 205));
    assert_eq!(record.encode(), bytes);

    let mut reassembler = HandshakeReassembler::new(1 << 16);
    reassembler.push(&record.fragment);
    let mut messages = Vec::new();
    while let Some(m) = reassembler.next_message().unwrap() {
        messages.push(m);
    }
    assert_eq!(reassembler.pending_len(), 0);
    let types: Vec<u8> = messages.iter().map(|m| m.handshake_type).collect();
    assert_eq!(types, [2, 11, 12, 14]);

    let sh = ServerHello::decode(&messages[0].body).unwrap();
    assert_eq!(sh.encode(), messages[0].body);
    assert_eq!(sh.legacy_version, 0x0303);
    assert_eq!(sh.selected_version(), Ok(0x0303));
    assert_eq!(sh.cipher_suite, 0xc02f);
    assert_eq!(sh.compression_method, 0);
    assert_eq!(sh.session_id.len(), 32);
    assert_eq!(&sh.random[24..], b"DOWNGRD\x01");
    assert!(!sh.is_hello_retry_request());
    let ext_types: Vec<u16> = sh.extensions.iter().flatten().map(|e| e.extension_type).collect();
    assert_eq!(ext_types, [0xff01, 0x000b, 0x0023, 0x0010, 0x0017]);
    assert_eq!(sh.extension(extension_type::RENEGOTIATION_INFO).unwrap().data, [0]);
    assert_eq!(sh.alpn_protocol(), Ok(Some(b"http/1.1".to_vec())));
    assert_eq!(sh.key_share_group(), Ok(None));
    assert_eq!(sh.heartbeat_mode(), Ok(None));

    let certs = CertificateMessage::decode(&messages[1].body).unwrap();
    assert_eq!(certs.certificates.len(), 2);
    assert_eq!(certs.certificates[0].len(), 14);
    assert_eq!(certs.certificates[1], hex("30083006020102020101"));
    assert_eq!(certs.encode(), messages[1].body);

    let params = decode_server_key_exchange(&messages[2].body, KeyExchangeKind::Ecdh).unwrap();
    match &params {
        KeyExchangeParams::EcdhNamed { group, public } => {
            assert_eq!(*group, 0x001d);
            assert_eq!(public.len(), 32);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(params.modulus_bits(), None);
    assert!(messages[2].body.starts_with(&encode_server_key_exchange(&params)));
    assert!(messages[3].body.is_empty());
}

/// A TLS 1.3 ServerHello as OpenSSL sends it (TLS_AES_256_GCM_SHA384, x25519, echoed
/// middlebox-compatibility session id, supported_versions before key_share).
const OPENSSL_TLS13_SERVER_HELLO: &str = concat!(
    "16 0303 007a",                                                        // record
    "02 000076 0303",                                                      // ServerHello
    "a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e26928",    // random
    "20 e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", // session id
    "1302 00 002e",                                                        // suite, null
    "002b 0002 0304",                                                      // TLS 1.3
    "0033 0024 001d 0020 c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f",
);

#[test]
fn captured_openssl_tls13_server_hello() {
    let bytes = hex(OPENSSL_TLS13_SERVER_HELLO);
    let (record, used) = Record::decode(&bytes).unwrap().unwrap();
    assert_eq!(used, bytes.len());
    let message = HandshakeMessage::decode(&record.fragment).unwrap();
    assert_eq!(message.handshake_type, handshake_type::SERVER_HELLO);
    let sh = ServerHello::decode(&message.body).unwrap();
    assert_eq!(sh.legacy_version, 0x0303);
    assert_eq!(sh.selected_version(), Ok(0x0304));
    assert_eq!(sh.cipher_suite, 0x1302);
    assert_eq!(sh.session_id, (0xe0..=0xff).collect::<Vec<u8>>());
    assert_eq!(sh.key_share_group(), Ok(Some(0x001d)));
    assert!(!sh.is_hello_retry_request());
    assert_eq!(sh.alpn_protocol(), Ok(None));
}

// ---------------------------------------------------------------------------------------------
// Certificate, ServerKeyExchange, CertificateStatus

#[test]
fn certificate_round_trips() {
    for certificates in [vec![], vec![vec![]], vec![vec![0x30; 1200], vec![0x31; 900], vec![0x32]]] {
        let m = CertificateMessage { certificates };
        let bytes = m.encode();
        assert_eq!(CertificateMessage::decode(&bytes), Ok(m));
        assert_prefixes_fail(&bytes, CertificateMessage::decode);
        assert_invalid(CertificateMessage::decode(&with_trailing(&bytes)));
    }
    assert_eq!(CertificateMessage { certificates: vec![vec![0xab]] }.encode(), hex("000004 000001 ab"));
    // An entry overrunning the list, and a list with a stray byte.
    assert_invalid(CertificateMessage::decode(&hex("000004 000002 ab")));
    assert_invalid(CertificateMessage::decode(&hex("000005 000001 ab 00")));
}

fn all_key_exchange_params() -> Vec<(KeyExchangeKind, KeyExchangeParams)> {
    let mut p = vec![0x00];
    p.extend(std::iter::repeat_n(0xff, 256));
    vec![
        (KeyExchangeKind::Dh, KeyExchangeParams::Dh { p, g: vec![2], public: vec![0x5c; 256] }),
        (KeyExchangeKind::Ecdh, KeyExchangeParams::EcdhNamed { group: 0x0017, public: vec![4; 65] }),
        (KeyExchangeKind::Ecdh, KeyExchangeParams::EcdhExplicit { curve_type: 1 }),
        (KeyExchangeKind::Ecdh, KeyExchangeParams::EcdhExplicit { curve_type: 2 }),
        (KeyExchangeKind::Rsa, KeyExchangeParams::Rsa { modulus: vec![0xc3; 64], exponent: vec![1, 0, 1] }),
    ]
}

#[test]
fn server_key_exchange_round_trips() {
    for (kind, params) in all_key_exchange_params() {
        let bytes = encode_server_key_exchange(&params);
        assert_eq!(decode_server_key_exchange(&bytes, kind).as_ref(), Ok(&params));
        assert_prefixes_fail(&bytes, |b| decode_server_key_exchange(b, kind));
        // The signature after the params is allowed and ignored.
        let mut signed = bytes.clone();
        signed.extend_from_slice(&hex("0401 0004 deadbeef"));
        assert_eq!(decode_server_key_exchange(&signed, kind), Ok(params));
    }
}

#[test]
fn server_key_exchange_known_answers_and_bad_values() {
    assert_eq!(
        decode_server_key_exchange(&hex("0001 17 0001 05 0001 0b"), KeyExchangeKind::Dh),
        Ok(KeyExchangeParams::Dh { p: vec![0x17], g: vec![5], public: vec![0x0b] })
    );
    assert_eq!(
        decode_server_key_exchange(&hex("03 0018 03 040102"), KeyExchangeKind::Ecdh),
        Ok(KeyExchangeParams::EcdhNamed { group: 24, public: vec![4, 1, 2] })
    );
    for bad in ["00 0017 01 04", "04 0017 01 04", "03 0017 00"] {
        assert_invalid(decode_server_key_exchange(&hex(bad), KeyExchangeKind::Ecdh));
    }
    for bad in ["0000 0001 02 0001 03", "0001 17 0000 0001 03", "0001 17 0001 02 0000"] {
        assert_invalid(decode_server_key_exchange(&hex(bad), KeyExchangeKind::Dh));
    }
    assert_invalid(decode_server_key_exchange(&hex("0000 0001 03"), KeyExchangeKind::Rsa));
}

#[test]
fn modulus_bits_ignores_leading_zeros() {
    let dh = |p: Vec<u8>| KeyExchangeParams::Dh { p, g: vec![2], public: vec![1] };
    let rsa = |modulus: Vec<u8>| KeyExchangeParams::Rsa { modulus, exponent: vec![3] };
    let mut p1024 = vec![0x00, 0x80];
    p1024.extend(vec![0x01; 127]);
    assert_eq!(dh(p1024).modulus_bits(), Some(1024));
    assert_eq!(dh(vec![0xff; 256]).modulus_bits(), Some(2048));
    assert_eq!(dh(vec![0, 0, 0x01]).modulus_bits(), Some(1));
    assert_eq!(dh(vec![0x01, 0x00]).modulus_bits(), Some(9));
    assert_eq!(dh(vec![0; 4]).modulus_bits(), Some(0));
    assert_eq!(rsa(vec![0x7f; 64]).modulus_bits(), Some(511));
    assert_eq!(rsa(vec![0xc0; 64]).modulus_bits(), Some(512));
    assert_eq!(KeyExchangeParams::EcdhNamed { group: 29, public: vec![1] }.modulus_bits(), None);
    assert_eq!(KeyExchangeParams::EcdhExplicit { curve_type: 1 }.modulus_bits(), None);
}

#[test]
fn certificate_status_round_trips() {
    for response in [vec![], vec![0x30, 0x03, 0x0a, 0x01, 0x00], vec![0x30; 70000]] {
        let s = CertificateStatus { status_type: 1, response };
        let bytes = s.encode();
        assert_eq!(CertificateStatus::decode(&bytes), Ok(s));
        assert_prefixes_fail(&bytes, CertificateStatus::decode);
        assert_invalid(CertificateStatus::decode(&with_trailing(&bytes)));
    }
    assert_eq!(CertificateStatus { status_type: 1, response: vec![0xaa] }.encode(), hex("01 000001 aa"));
}

#[test]
fn certificate_request_round_trips_in_both_layouts() {
    let names = vec![hex("300f310d300b06035504030c0474657374"), vec![0x30, 0x00]];
    for (tls12, signature_algorithms) in [(true, Some(vec![0x0401, 0x0804])), (false, None)] {
        for authorities in [Vec::new(), names.clone()] {
            let request = CertificateRequest {
                certificate_types: vec![1, 64],
                signature_algorithms: signature_algorithms.clone(),
                authorities,
            };
            let bytes = request.encode();
            assert_eq!(CertificateRequest::decode(&bytes, tls12), Ok(request));
            assert_prefixes_fail(&bytes, |b| CertificateRequest::decode(b, tls12));
            assert_invalid(CertificateRequest::decode(&with_trailing(&bytes), tls12));
        }
    }
    // Known answer (TLS 1.2): types {rsa_sign}, {rsa_pkcs1_sha256}, one 2-byte name.
    let request = CertificateRequest::decode(&hex("01 01  0002 0401  0004 0002 3000"), true).unwrap();
    assert_eq!(request.authorities, [vec![0x30, 0x00]]);
    // No certificate type, an empty name, a name list running past the body.
    assert_invalid(CertificateRequest::decode(&hex("00 0000 0000"), true));
    assert_invalid(CertificateRequest::decode(&hex("01 01 0000 0002 0000"), true));
    assert_invalid(CertificateRequest::decode(&hex("01 01 0000 0004 0005 3000"), true));
}

// ---------------------------------------------------------------------------------------------
// Alerts, records, handshake messages

#[test]
fn alert_round_trips_and_is_exactly_two_bytes() {
    let a = Alert { level: 2, description: alert_description::HANDSHAKE_FAILURE };
    assert_eq!(a.encode(), [2, 40]);
    assert_eq!(Alert::decode(&[2, 40]), Ok(a));
    assert_prefixes_fail(&a.encode(), Alert::decode);
    assert_invalid(Alert::decode(&[2, 40, 0]));
}

#[test]
fn alert_names() {
    use alert_description::*;
    let name = |description| Alert { level: 2, description }.description_name();
    for (code, expected) in [
        (CLOSE_NOTIFY, "close_notify"),
        (UNEXPECTED_MESSAGE, "unexpected_message"),
        (HANDSHAKE_FAILURE, "handshake_failure"),
        (ILLEGAL_PARAMETER, "illegal_parameter"),
        (DECODE_ERROR, "decode_error"),
        (PROTOCOL_VERSION, "protocol_version"),
        (INSUFFICIENT_SECURITY, "insufficient_security"),
        (INTERNAL_ERROR, "internal_error"),
        (INAPPROPRIATE_FALLBACK, "inappropriate_fallback"),
        (UNRECOGNIZED_NAME, "unrecognized_name"),
        (20, "bad_record_mac"),
        (41, "no_certificate"),
        (48, "unknown_ca"),
        (100, "no_renegotiation"),
        (109, "missing_extension"),
        (116, "certificate_required"),
        (120, "no_application_protocol"),
    ] {
        assert_eq!(name(code), expected);
    }
    assert_eq!(name(1), "unknown(1)");
    assert_eq!(name(255), "unknown(255)");
}

#[test]
fn record_round_trips_and_asks_for_more() {
    for fragment in [vec![], vec![2, 40], vec![0x16; MAX_RECORD_FRAGMENT]] {
        let r = Record { content_type: content_type::ALERT, version: 0x0303, fragment };
        let bytes = r.encode();
        assert_eq!(Record::decode(&bytes), Ok(Some((r.clone(), bytes.len()))));
        assert_prefixes_incomplete(&bytes, Record::decode);
        // Bytes after a record belong to the next one.
        assert_eq!(Record::decode(&with_trailing(&bytes)), Ok(Some((r, bytes.len()))));
    }
    assert_eq!(Record { content_type: 21, version: 0x0301, fragment: vec![1, 0] }.encode(), hex("15 0301 0002 0100"));
}

#[test]
fn record_recognises_garbage_at_once() {
    assert_invalid(Record::decode(b"H"));
    assert_invalid(Record::decode(b"HTTP/1.1 400 Bad Request\r\n"));
    assert_invalid(Record::decode(b"SSH-2.0-OpenSSH_9.6\r\n"));
    assert_invalid(Record::decode(&[0x19]));
    assert_invalid(Record::decode(&[0x13]));
    assert_invalid(Record::decode(&[0x16, 0x02]));
    // An SSLv2 SERVER-HELLO where a TLS record was expected.
    assert_invalid(Record::decode(&sslv2_server_hello().encode_record()));
    // One byte over the limit, and the limit itself.
    assert_invalid(Record::decode(&hex("17 0303 4801")));
    assert_eq!(Record::decode(&hex("17 0303 4800")), Ok(None));
    for t in 20..=24 {
        assert_eq!(Record::decode(&[t, 3]), Ok(None));
    }
}

#[test]
fn record_encode_splits_oversized_fragment() {
    let r = Record { content_type: 23, version: 0x0303, fragment: vec![1; 70000] };
    let bytes = r.encode();
    assert_eq!(bytes.len(), 70000 + 10);
    assert_eq!(&bytes[..5], &hex("17 0303 ffff"));
    assert_eq!(&bytes[5 + 0xffff..5 + 0xffff + 5], &hex("17 0303 1171"));
}

#[test]
fn handshake_message_round_trips() {
    for body in [vec![], vec![1, 2, 3], vec![9; 70000]] {
        let m = HandshakeMessage { handshake_type: handshake_type::CERTIFICATE, body };
        let bytes = m.encode();
        assert_eq!(HandshakeMessage::decode(&bytes).as_ref(), Ok(&m));
        assert_invalid(HandshakeMessage::decode(&with_trailing(&bytes)));
        assert_prefixes_fail(&bytes, HandshakeMessage::decode);
        for n in 0..bytes.len() {
            // Each check copies the prefix: sample the long message to stay linear.
            if bytes.len() > 100 && n % 997 != 0 && n + 1 != bytes.len() {
                continue;
            }
            let mut re = HandshakeReassembler::new(1 << 20);
            re.push(&bytes[..n]);
            assert_eq!(re.next_message(), Ok(None), "prefix {n}");
            assert_eq!(re.pending_len(), n);
        }
        let mut re = HandshakeReassembler::new(1 << 20);
        re.push(&bytes);
        assert_eq!(re.next_message(), Ok(Some(m)));
        assert_eq!(re.next_message(), Ok(None));
    }
    assert_eq!(HandshakeMessage { handshake_type: 14, body: vec![] }.encode(), hex("0e 000000"));
}

#[test]
fn reassembler_joins_a_message_split_across_three_records() {
    let m =
        HandshakeMessage { handshake_type: handshake_type::CERTIFICATE, body: (0..1000).map(|i| i as u8).collect() };
    let bytes = m.encode();
    let mut re = HandshakeReassembler::new(4096);
    // The first fragment holds only part of the 4-byte header.
    re.push(&bytes[..2]);
    assert_eq!(re.next_message(), Ok(None));
    re.push(&bytes[2..600]);
    assert_eq!(re.next_message(), Ok(None));
    assert_eq!(re.pending_len(), 600);
    re.push(&bytes[600..]);
    assert_eq!(re.next_message(), Ok(Some(m)));
    assert_eq!(re.next_message(), Ok(None));
    assert_eq!(re.pending_len(), 0);
}

#[test]
fn reassembler_splits_two_messages_in_one_record() {
    let first = HandshakeMessage { handshake_type: handshake_type::SERVER_HELLO, body: tls12_server_hello().encode() };
    let done = HandshakeMessage { handshake_type: handshake_type::SERVER_HELLO_DONE, body: vec![] };
    let third = HandshakeMessage { handshake_type: handshake_type::CERTIFICATE_STATUS, body: vec![1, 0, 0, 1, 0x30] };
    let mut fragment = first.encode();
    fragment.extend_from_slice(&done.encode());
    fragment.extend_from_slice(&third.encode()[..3]);
    let mut re = HandshakeReassembler::new(4096);
    re.push(&fragment);
    assert_eq!(re.next_message(), Ok(Some(first)));
    assert_eq!(re.next_message(), Ok(Some(done)));
    assert_eq!(re.next_message(), Ok(None));
    assert_eq!(re.pending_len(), 3);
    re.push(&third.encode()[3..]);
    assert_eq!(re.next_message(), Ok(Some(third)));
    assert_eq!(re.pending_len(), 0);
}

#[test]
fn reassembler_enforces_the_length_limit() {
    let at_limit = HandshakeMessage { handshake_type: 11, body: vec![0; 100] };
    let mut re = HandshakeReassembler::new(100);
    re.push(&at_limit.encode());
    assert_eq!(re.next_message(), Ok(Some(at_limit)));
    // Refused from the header alone, without waiting for the body.
    let mut re = HandshakeReassembler::new(100);
    re.push(&hex("0b 000065"));
    assert_invalid(re.next_message());
    let mut re = HandshakeReassembler::new(1 << 16);
    re.push(&hex("0b ffffff"));
    assert_invalid(re.next_message());
}
