//! Property tests of the TLS/SSL codec: arbitrary and mutated bytes never make a decoder panic or
//! return a value that does not re-encode to its input, and generated messages round-trip.

mod codec_oracle;

use postura::tls::codec::*;
use proptest::collection::vec;
use proptest::prelude::*;

const KNOWN_EXTENSIONS: [u16; 15] = [0, 5, 10, 11, 13, 15, 16, 21, 22, 23, 35, 43, 45, 51, 0xff01];

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

fn client_extension() -> impl Strategy<Value = ClientExtension> {
    prop_oneof![
        "[a-z0-9.-]{0,40}".prop_map(ClientExtension::ServerName),
        vec(any::<u16>(), 0..40).prop_map(ClientExtension::SupportedGroups),
        bytes(8).prop_map(ClientExtension::EcPointFormats),
        vec(any::<u16>(), 0..40).prop_map(ClientExtension::SignatureAlgorithms),
        vec(any::<u16>(), 0..=127).prop_map(ClientExtension::SupportedVersions),
        vec((any::<u16>(), bytes(100)), 0..4).prop_map(ClientExtension::KeyShare),
        bytes(4).prop_map(ClientExtension::PskKeyExchangeModes),
        bytes(36).prop_map(ClientExtension::RenegotiationInfo),
        bytes(200).prop_map(ClientExtension::SessionTicket),
        Just(ClientExtension::StatusRequest),
        vec(bytes(20), 0..5).prop_map(ClientExtension::Alpn),
        any::<u8>().prop_map(ClientExtension::Heartbeat),
        Just(ClientExtension::ExtendedMasterSecret),
        Just(ClientExtension::EncryptThenMac),
        (0usize..600).prop_map(ClientExtension::Padding),
        (any::<u16>().prop_filter("a known type decodes typed", |t| !KNOWN_EXTENSIONS.contains(t)), bytes(64))
            .prop_map(|(extension_type, data)| ClientExtension::Unknown { extension_type, data }),
    ]
}

fn client_hello() -> impl Strategy<Value = ClientHello> {
    (
        prop_oneof![Just(0x0300u16), Just(0x0301), Just(0x0302), Just(0x0303)],
        any::<[u8; 32]>(),
        bytes(32),
        vec(any::<u16>(), 1..80),
        vec(any::<u8>(), 1..4),
        proptest::option::of(vec(client_extension(), 0..20)),
    )
        .prop_map(|(client_version, random, session_id, cipher_suites, compression_methods, extensions)| {
            ClientHello {
                // Not in the handshake message: decoding reports this usual choice.
                record_version: if client_version == 0x0300 { 0x0300 } else { 0x0301 },
                client_version,
                random,
                session_id,
                cipher_suites,
                compression_methods,
                extensions,
            }
        })
}

fn server_hello() -> impl Strategy<Value = ServerHello> {
    (
        any::<u16>(),
        any::<[u8; 32]>(),
        bytes(32),
        any::<u16>(),
        any::<u8>(),
        proptest::option::of(vec(
            (any::<u16>(), bytes(40)).prop_map(|(extension_type, data)| RawExtension { extension_type, data }),
            0..10,
        )),
    )
        .prop_map(|(legacy_version, random, session_id, cipher_suite, compression_method, extensions)| {
            ServerHello { legacy_version, random, session_id, cipher_suite, compression_method, extensions }
        })
}

fn sslv2_server_hello() -> impl Strategy<Value = Sslv2ServerHello> {
    (any::<u8>(), any::<u8>(), any::<u16>(), bytes(2000), vec(0u32..1 << 24, 0..30), bytes(32)).prop_map(
        |(session_id_hit, certificate_type, version, certificate, cipher_specs, connection_id)| Sslv2ServerHello {
            session_id_hit,
            certificate_type,
            version,
            certificate,
            cipher_specs,
            connection_id,
        },
    )
}

/// Valid encodings to mutate, so that mutations reach past the first length checks.
fn seeds() -> Vec<Vec<u8>> {
    let hello = ClientHello {
        record_version: 0x0301,
        client_version: 0x0303,
        random: [3; 32],
        session_id: vec![9; 32],
        cipher_suites: vec![0x1301, 0xc02f, 0x0035],
        compression_methods: vec![0],
        extensions: Some(vec![
            ClientExtension::ServerName("example.org".into()),
            ClientExtension::SupportedGroups(vec![29, 23]),
            ClientExtension::SupportedVersions(vec![0x0304, 0x0303]),
            ClientExtension::KeyShare(vec![(29, vec![5; 32])]),
            ClientExtension::Alpn(vec![b"h2".to_vec()]),
            ClientExtension::StatusRequest,
            ClientExtension::Padding(3),
        ]),
    };
    let server_hello = ServerHello {
        legacy_version: 0x0303,
        random: [7; 32],
        session_id: vec![1; 32],
        cipher_suite: 0x1302,
        compression_method: 0,
        extensions: Some(vec![
            RawExtension { extension_type: 43, data: vec![3, 4] },
            RawExtension { extension_type: 51, data: vec![0, 29, 0, 2, 1, 2] },
            RawExtension { extension_type: 16, data: vec![0, 3, 2, b'h', b'2'] },
        ]),
    };
    let mut flight = Vec::new();
    for (handshake_type, body) in [
        (2, server_hello.encode()),
        (11, CertificateMessage { certificates: vec![vec![0x30; 40], vec![0x31; 20]] }.encode()),
        (12, encode_server_key_exchange(&KeyExchangeParams::EcdhNamed { group: 23, public: vec![4; 65] })),
        (22, CertificateStatus { status_type: 1, response: vec![0x30; 30] }.encode()),
        (14, vec![]),
    ] {
        flight.extend(HandshakeMessage { handshake_type, body }.encode());
    }
    let flight_records: Vec<u8> = flight
        .chunks(100)
        .flat_map(|fragment| Record { content_type: 22, version: 0x0303, fragment: fragment.to_vec() }.encode())
        .collect();
    vec![
        hello.encode_handshake(),
        hello.encode_record(),
        server_hello.encode(),
        flight_records,
        encode_server_key_exchange(&KeyExchangeParams::Dh { p: vec![0xff; 64], g: vec![2], public: vec![9; 64] }),
        encode_sslv2_client_hello(&[0x010080, 0x0700c0, 0x030080], &[1; 16]),
        Sslv2ServerHello {
            session_id_hit: 0,
            certificate_type: 1,
            version: 2,
            certificate: vec![0x30; 50],
            cipher_specs: vec![0x010080, 0x0700c0],
            connection_id: vec![8; 16],
        }
        .encode_record(),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_break_a_decoder(data in bytes(4096)) {
        codec_oracle::exercise(&data);
    }

    #[test]
    fn arbitrary_bodies_in_valid_framing_never_break_a_decoder(
        handshake_type in prop_oneof![
            Just(1u8), Just(2), Just(11), Just(12), Just(14), Just(22), any::<u8>()
        ],
        body in bytes(4096),
    ) {
        let message = HandshakeMessage { handshake_type, body }.encode();
        codec_oracle::exercise(&message);
        let record = Record { content_type: 22, version: 0x0303, fragment: message };
        codec_oracle::exercise(&record.encode());
    }

    #[test]
    fn mutated_valid_messages_never_break_a_decoder(
        seed in 0usize..7,
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let mut data = seeds().swap_remove(seed);
        for (at, value) in edits {
            let i = at.index(data.len());
            data[i] = value;
        }
        if do_cut {
            data.truncate(cut.index(data.len() + 1));
        }
        codec_oracle::exercise(&data);
    }

    #[test]
    fn generated_client_hellos_round_trip(hello in client_hello()) {
        let bytes = hello.encode_handshake();
        prop_assert_eq!(ClientHello::decode_handshake(&bytes), Ok(hello.clone()));
        // The records carry the same hello, plus F5 padding where needed.
        let records = hello.encode_record();
        let mut reassembler = HandshakeReassembler::new(1 << 20);
        let mut rest = &records[..];
        while let Some((record, used)) = Record::decode(rest).unwrap() {
            prop_assert_eq!(record.version, hello.record_version);
            reassembler.push(&record.fragment);
            rest = &rest[used..];
        }
        prop_assert!(rest.is_empty());
        let message = reassembler.next_message().unwrap().unwrap();
        let from_records = ClientHello::decode_handshake(&message.encode()).unwrap();
        let mut expected = hello.clone();
        if let Some(extensions) = expected.extensions.as_mut() {
            let has_padding = extensions.iter().any(|e| matches!(e, ClientExtension::Padding(_)));
            if !has_padding && (256..512).contains(&bytes.len()) {
                let n = if bytes.len() < 508 { 512 - 4 - bytes.len() } else { 1 };
                extensions.push(ClientExtension::Padding(n));
            }
        }
        prop_assert_eq!(from_records, expected);
    }

    #[test]
    fn generated_server_hellos_round_trip(hello in server_hello()) {
        let body = hello.encode();
        prop_assert_eq!(ServerHello::decode(&body), Ok(hello.clone()));
        let message = HandshakeMessage { handshake_type: 2, body }.encode();
        for n in 0..message.len() {
            prop_assert!(HandshakeMessage::decode(&message[..n]).is_err());
        }
    }

    #[test]
    fn generated_sslv2_server_hellos_round_trip(hello in sslv2_server_hello()) {
        let record = hello.encode_record();
        let decoded = Sslv2ServerHello::decode_record(&record);
        prop_assert_eq!(decoded, Ok(Some((hello.clone(), record.len()))));
        for n in 0..record.len() {
            prop_assert_eq!(Sslv2ServerHello::decode_record(&record[..n]), Ok(None));
        }
    }

    #[test]
    fn generated_certificates_and_key_exchanges_round_trip(
        certificates in vec(bytes(300), 0..6),
        p in vec(any::<u8>(), 1..300),
        group in any::<u16>(),
        point in vec(any::<u8>(), 1..=255),
        signature in bytes(64),
    ) {
        let message = CertificateMessage { certificates };
        prop_assert_eq!(CertificateMessage::decode(&message.encode()), Ok(message));
        for (kind, params) in [
            (
                KeyExchangeKind::Dh,
                KeyExchangeParams::Dh { p: p.clone(), g: vec![2], public: p.clone() },
            ),
            (KeyExchangeKind::Ecdh, KeyExchangeParams::EcdhNamed { group, public: point }),
            (KeyExchangeKind::Rsa, KeyExchangeParams::Rsa { modulus: p, exponent: vec![3] }),
        ] {
            let mut body = encode_server_key_exchange(&params);
            body.extend_from_slice(&signature);
            prop_assert_eq!(decode_server_key_exchange(&body, kind), Ok(params));
        }
    }

    #[test]
    fn generated_certificate_requests_round_trip(
        certificate_types in vec(any::<u8>(), 1..8),
        signature_algorithms in vec(any::<u16>(), 0..20),
        authorities in vec(vec(any::<u8>(), 1..200), 0..8),
        tls12 in any::<bool>(),
    ) {
        let request = CertificateRequest {
            certificate_types,
            signature_algorithms: tls12.then_some(signature_algorithms),
            authorities,
        };
        let bytes = request.encode();
        prop_assert_eq!(CertificateRequest::decode(&bytes, tls12), Ok(request));
        for n in 0..bytes.len() {
            prop_assert!(CertificateRequest::decode(&bytes[..n], tls12).is_err());
        }
    }

    #[test]
    fn reassembler_survives_arbitrary_fragments(
        fragments in vec(bytes(300), 0..20),
        limit in 0usize..5000,
    ) {
        let mut reassembler = HandshakeReassembler::new(limit);
        for fragment in &fragments {
            reassembler.push(fragment);
            while let Ok(Some(message)) = reassembler.next_message() {
                prop_assert!(message.body.len() <= limit);
            }
        }
    }
}
