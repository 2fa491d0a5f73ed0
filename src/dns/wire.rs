//! DNS messages on the wire: queries are built byte by byte here (so every probe chooses its
//! flags, class, EDNS version, Z bits and options exactly), answers are decoded by hickory-proto
//! after a size check. Nothing from the network is trusted: decoding never panics, and a
//! message that does not decode is an error value carrying a short, printable reason.

use hickory_proto::op::Message;
use hickory_proto::rr::Name;

/// The largest DNS message: a TCP length prefix is 16 bits.
pub const MAX_MESSAGE: usize = 65_535;

pub const CLASS_IN: u16 = 1;
pub const CLASS_CH: u16 = 3;

/// Record type numbers used by the probes (RFC 1035, 3596, 4034, 5155, 6844, 7208).
pub mod rtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const PTR: u16 = 12;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    pub const DS: u16 = 43;
    pub const RRSIG: u16 = 46;
    pub const DNSKEY: u16 = 48;
    pub const NSEC3PARAM: u16 = 51;
    pub const TLSA: u16 = 52;
    pub const CAA: u16 = 257;
    pub const AXFR: u16 = 252;
}

/// An EDNS OPT record to attach to a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdnsQuery {
    pub version: u8,
    pub payload: u16,
    pub dnssec_ok: bool,
    /// The 15 flag bits after DO (RFC 6891 "Z"), which a server must clear in its answer.
    pub z: u16,
    /// Options as (code, data).
    pub options: Vec<(u16, Vec<u8>)>,
}

impl EdnsQuery {
    /// Plain EDNS(0) with a payload size that fits one unfragmented datagram.
    pub fn plain() -> EdnsQuery {
        EdnsQuery { version: 0, payload: 1232, dnssec_ok: false, z: 0, options: Vec::new() }
    }

    pub fn dnssec() -> EdnsQuery {
        EdnsQuery { dnssec_ok: true, ..EdnsQuery::plain() }
    }
}

/// One question and how to ask it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: String,
    pub qtype: u16,
    pub class: u16,
    pub recursion_desired: bool,
    pub checking_disabled: bool,
    pub edns: Option<EdnsQuery>,
}

impl Question {
    /// An iterative (RD off) IN question with plain EDNS(0): what authoritative probes send.
    pub fn new(name: &str, qtype: u16) -> Question {
        Question {
            name: name.to_string(),
            qtype,
            class: CLASS_IN,
            recursion_desired: false,
            checking_disabled: false,
            edns: Some(EdnsQuery::plain()),
        }
    }

    pub fn recursive(mut self) -> Question {
        self.recursion_desired = true;
        self
    }

    pub fn with_edns(mut self, edns: Option<EdnsQuery>) -> Question {
        self.edns = edns;
        self
    }

    pub fn class(mut self, class: u16) -> Question {
        self.class = class;
        self
    }
}

/// Why a name cannot be put in a query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode name '{0}': {1}")]
pub struct NameError(pub String, pub &'static str);

/// Encode a presentation-format name (`a.example.`, trailing dot optional; `.` is the root)
/// as uncompressed wire labels.
pub fn encode_name(name: &str, out: &mut Vec<u8>) -> Result<(), NameError> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let start = out.len();
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            if label.is_empty() {
                return Err(NameError(name.to_string(), "empty label"));
            }
            if label.len() > 63 {
                return Err(NameError(name.to_string(), "label longer than 63 octets"));
            }
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    if out.len() - start > 255 {
        return Err(NameError(name.to_string(), "name longer than 255 octets"));
    }
    Ok(())
}

/// The query message for `question` with the given id.
pub fn encode_query(id: u16, question: &Question) -> Result<Vec<u8>, NameError> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&id.to_be_bytes());
    let mut flags: u16 = 0; // QR=0, opcode QUERY
    if question.recursion_desired {
        flags |= 0x0100;
    }
    if question.checking_disabled {
        flags |= 0x0010;
    }
    out.extend_from_slice(&flags.to_be_bytes());
    let additional: u16 = if question.edns.is_some() { 1 } else { 0 };
    for count in [1u16, 0, 0, additional] {
        out.extend_from_slice(&count.to_be_bytes());
    }
    encode_name(&question.name, &mut out)?;
    out.extend_from_slice(&question.qtype.to_be_bytes());
    out.extend_from_slice(&question.class.to_be_bytes());
    if let Some(edns) = &question.edns {
        out.push(0); // owner: root
        out.extend_from_slice(&41u16.to_be_bytes());
        out.extend_from_slice(&edns.payload.to_be_bytes());
        out.push(0); // extended RCODE
        out.push(edns.version);
        let flags: u16 = (if edns.dnssec_ok { 0x8000 } else { 0 }) | (edns.z & 0x7fff);
        out.extend_from_slice(&flags.to_be_bytes());
        let rdata: Vec<u8> = edns
            .options
            .iter()
            .flat_map(|(code, data)| {
                let mut option = Vec::with_capacity(4 + data.len());
                option.extend_from_slice(&code.to_be_bytes());
                option.extend_from_slice(&(data.len().min(u16::MAX as usize) as u16).to_be_bytes());
                option.extend_from_slice(&data[..data.len().min(u16::MAX as usize)]);
                option
            })
            .collect();
        out.extend_from_slice(&(rdata.len().min(u16::MAX as usize) as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    Ok(out)
}

/// The raw OPT record of an answer, read directly from the wire (hickory folds some of it away):
/// what the EDNS probes compare with what they sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawOpt {
    pub payload: u16,
    pub extended_rcode: u8,
    pub version: u8,
    pub dnssec_ok: bool,
    pub z: u16,
    pub option_codes: Vec<u16>,
}

/// A decoded answer plus the raw facts the probes need from its header and OPT record.
#[derive(Debug, Clone)]
pub struct Answer {
    pub message: Message,
    /// The full RCODE (header bits plus the OPT's extended bits).
    pub rcode: u16,
    pub opt: Option<RawOpt>,
    pub size: usize,
    /// The hash algorithms of NSEC3 and NSEC3PARAM records that hickory-proto cannot decode (any
    /// but SHA-1): each was read raw and decoded as SHA-1 so that the rest of the answer is
    /// usable; those records carry no usable proof (validators ignore them, RFC 5155 §8.1).
    pub unknown_nsec3_algorithms: Vec<u8>,
}

/// Why an answer was not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeFailure {
    #[error("answer shorter than a DNS header ({0} bytes)")]
    TooShort(usize),
    #[error("answer larger than {MAX_MESSAGE} bytes")]
    TooLarge,
    #[error("answer id {got:#06x} does not match query id {expected:#06x}")]
    IdMismatch { expected: u16, got: u16 },
    #[error("not a response (QR bit clear)")]
    NotResponse,
    #[error("malformed answer: {0}")]
    Malformed(String),
}

/// Decode an answer to the query with id `expected_id`.
pub fn decode_answer(bytes: &[u8], expected_id: u16) -> Result<Answer, DecodeFailure> {
    if bytes.len() < 12 {
        return Err(DecodeFailure::TooShort(bytes.len()));
    }
    if bytes.len() > MAX_MESSAGE {
        return Err(DecodeFailure::TooLarge);
    }
    let id = u16::from_be_bytes([bytes[0], bytes[1]]);
    if id != expected_id {
        return Err(DecodeFailure::IdMismatch { expected: expected_id, got: id });
    }
    if bytes[2] & 0x80 == 0 {
        return Err(DecodeFailure::NotResponse);
    }
    let header_rcode = (bytes[3] & 0x0f) as u16;
    let opt = find_opt(bytes);
    let mut unknown_nsec3_algorithms = Vec::new();
    let message = match Message::from_vec(bytes) {
        Ok(message) => message,
        Err(error) => {
            let malformed = |error: &dyn std::fmt::Display| {
                let mut text = error.to_string();
                text.truncate(160);
                DecodeFailure::Malformed(text)
            };
            let mut patched = bytes.to_vec();
            unknown_nsec3_algorithms = neutralise_nsec3_algorithms(&mut patched).ok_or_else(|| malformed(&error))?;
            if unknown_nsec3_algorithms.is_empty() {
                return Err(malformed(&error));
            }
            Message::from_vec(&patched).map_err(|error| malformed(&error))?
        }
    };
    let rcode = header_rcode | opt.as_ref().map(|o| (o.extended_rcode as u16) << 4).unwrap_or(0);
    Ok(Answer { message, rcode, opt, size: bytes.len(), unknown_nsec3_algorithms })
}

/// Rewrite the hash algorithm of every NSEC3 (50) and NSEC3PARAM (51) record whose algorithm is
/// not SHA-1 to SHA-1, in place; returns the original algorithms (empty: nothing rewritten).
/// hickory-proto refuses the whole message over one such record, and a zone that uses an
/// unassigned hash algorithm is exactly what the NSEC3 check must see.
fn neutralise_nsec3_algorithms(bytes: &mut [u8]) -> Option<Vec<u8>> {
    let counts: Vec<usize> = (0..4).map(|i| read_u16(bytes, 4 + 2 * i).map(usize::from)).collect::<Option<_>>()?;
    let mut at = 12;
    for _ in 0..counts[0] {
        at = skip_name(bytes, at)? + 4;
    }
    let mut originals = Vec::new();
    for _ in 0..counts[1] + counts[2] + counts[3] {
        let name_end = skip_name(bytes, at)?;
        let rtype = read_u16(bytes, name_end)?;
        let rdlength = read_u16(bytes, name_end + 8)? as usize;
        let rdata_start = name_end + 10;
        let end = rdata_start.checked_add(rdlength).filter(|end| *end <= bytes.len())?;
        if matches!(rtype, 50 | 51) && rdlength > 0 && bytes[rdata_start] != 1 {
            originals.push(bytes[rdata_start]);
            bytes[rdata_start] = 1;
        }
        at = end;
    }
    Some(originals)
}

/// Skip a (possibly compressed) name starting at `at`; returns the offset after it. Pointers end
/// the name in place, so no loop can form here.
fn skip_name(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let length = *bytes.get(at)?;
        match length & 0xc0 {
            0x00 if length == 0 => return Some(at + 1),
            0x00 => at += 1 + length as usize,
            0xc0 => return Some(at + 2).filter(|end| *end <= bytes.len()),
            _ => return None,
        }
    }
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

/// Find the OPT record in the additional section and read it raw.
fn find_opt(bytes: &[u8]) -> Option<RawOpt> {
    let counts: Vec<usize> = (0..4).map(|i| read_u16(bytes, 4 + 2 * i).map(usize::from)).collect::<Option<_>>()?;
    let mut at = 12;
    for _ in 0..counts[0] {
        at = skip_name(bytes, at)? + 4;
    }
    let records = counts[1] + counts[2] + counts[3];
    for index in 0..records {
        let name_end = skip_name(bytes, at)?;
        let rtype = read_u16(bytes, name_end)?;
        let rdlength = read_u16(bytes, name_end + 8)? as usize;
        let rdata_start = name_end + 10;
        let end = rdata_start.checked_add(rdlength).filter(|end| *end <= bytes.len())?;
        if rtype == 41 && index >= counts[1] + counts[2] {
            let payload = read_u16(bytes, name_end + 2)?;
            let extended_rcode = *bytes.get(name_end + 4)?;
            let version = *bytes.get(name_end + 5)?;
            let flags = read_u16(bytes, name_end + 6)?;
            let mut option_codes = Vec::new();
            let mut option_at = rdata_start;
            while option_at + 4 <= end {
                option_codes.push(read_u16(bytes, option_at)?);
                option_at += 4 + read_u16(bytes, option_at + 2)? as usize;
            }
            return Some(RawOpt {
                payload,
                extended_rcode,
                version,
                dnssec_ok: flags & 0x8000 != 0,
                z: flags & 0x7fff,
                option_codes,
            });
        }
        at = end;
    }
    None
}

/// A name as postura writes it in facts: lower case, with the trailing dot.
pub fn fqdn(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    if lower.ends_with('.') {
        lower
    } else {
        format!("{lower}.")
    }
}

/// A hickory name in postura's form.
pub fn name_text(name: &Name) -> String {
    fqdn(&name.to_ascii())
}

/// The reverse-mapping name of an address (`in-addr.arpa.` / `ip6.arpa.`).
pub fn reverse_name(address: std::net::IpAddr) -> String {
    match address {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0])
        }
        std::net::IpAddr::V6(v6) => {
            let mut name = String::new();
            for byte in v6.octets().iter().rev() {
                name.push_str(&format!("{:x}.{:x}.", byte & 0x0f, byte >> 4));
            }
            name.push_str("ip6.arpa.");
            name
        }
    }
}

/// Whether `name` is `zone` or below it (both in postura's form).
pub fn is_subdomain(name: &str, zone: &str) -> bool {
    zone == "." || name == zone || name.ends_with(&format!(".{zone}"))
}

/// The parent of a name (`.` for a TLD and for the root).
pub fn parent(name: &str) -> String {
    match name.trim_end_matches('.').split_once('.') {
        Some((_, rest)) if !rest.is_empty() => fqdn(rest),
        _ => ".".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_carry_exactly_the_chosen_flags_and_options() {
        let mut question = Question::new("Example.test", rtype::SOA);
        question.edns = Some(EdnsQuery {
            version: 1,
            payload: 512,
            dnssec_ok: true,
            z: 0x0040,
            options: vec![(65001, vec![1, 2])],
        });
        let bytes = encode_query(0x1234, &question).unwrap();
        assert_eq!(&bytes[..4], &[0x12, 0x34, 0x00, 0x00]);
        assert_eq!(&bytes[4..12], &[0, 1, 0, 0, 0, 0, 0, 1]);
        let message = Message::from_vec(&bytes).unwrap();
        assert!(!message.metadata.recursion_desired);
        let edns = message.edns.unwrap();
        assert_eq!((edns.version(), edns.max_payload(), edns.flags().dnssec_ok), (1, 512, true));
        let recursive = encode_query(1, &Question::new(".", rtype::NS).recursive().with_edns(None)).unwrap();
        assert_eq!(recursive[2], 0x01);
        assert_eq!(recursive.len(), 12 + 1 + 4);
    }

    #[test]
    fn over_long_names_are_refused_not_truncated() {
        assert!(encode_query(1, &Question::new(&"a".repeat(64), rtype::A)).is_err());
        let long = vec!["a".repeat(60); 5].join(".");
        assert!(encode_query(1, &Question::new(&long, rtype::A)).is_err());
        assert!(encode_query(1, &Question::new("a..b", rtype::A)).is_err());
    }

    #[test]
    fn raw_opt_is_read_back_from_an_answer() {
        let mut question = Question::new("example.test", rtype::SOA);
        question.edns =
            Some(EdnsQuery { version: 0, payload: 4096, dnssec_ok: false, z: 0x0001, options: vec![(10, vec![0; 8])] });
        let mut bytes = encode_query(7, &question).unwrap();
        bytes[2] |= 0x80; // make it a response
        let answer = decode_answer(&bytes, 7).unwrap();
        let opt = answer.opt.unwrap();
        assert_eq!((opt.payload, opt.z, opt.option_codes.clone()), (4096, 1, vec![10]));
        assert_eq!(decode_answer(&bytes, 8).unwrap_err(), DecodeFailure::IdMismatch { expected: 8, got: 7 });
    }

    #[test]
    fn a_compression_loop_is_an_error_not_a_hang() {
        // Header (1 answer), question "a." A IN, then an answer whose name points at itself.
        let mut bytes = vec![0, 9, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1];
        let at = bytes.len() as u8;
        bytes.extend_from_slice(&[0xc0, at, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
        assert!(matches!(decode_answer(&bytes, 9), Err(DecodeFailure::Malformed(_))));
    }

    #[test]
    fn nsec3_records_with_an_unassigned_hash_algorithm_are_read_not_refused() {
        // Header (1 answer), question "a." NSEC3PARAM IN, answer "a." NSEC3PARAM 2 0 0 -.
        let mut bytes = vec![0, 9, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, b'a', 0, 0, 51, 0, 1];
        bytes.extend_from_slice(&[0xc0, 12, 0, 51, 0, 1, 0, 0, 0, 60, 0, 5, 2, 0, 0, 0, 0]);
        let answer = decode_answer(&bytes, 9).unwrap();
        assert_eq!(answer.unknown_nsec3_algorithms, vec![2]);
        assert_eq!(answer.message.answers.len(), 1);
        // SHA-1 decodes as it is, with nothing rewritten.
        bytes[12 + 3 + 4 + 12] = 1;
        assert_eq!(decode_answer(&bytes, 9).unwrap().unknown_nsec3_algorithms, Vec::<u8>::new());
        // Another malformation is still an error.
        bytes.truncate(bytes.len() - 1);
        assert!(matches!(decode_answer(&bytes, 9), Err(DecodeFailure::Malformed(_))));
    }

    #[test]
    fn reverse_names() {
        assert_eq!(reverse_name("192.0.2.53".parse().unwrap()), "53.2.0.192.in-addr.arpa.");
        let v6 = reverse_name("2001:db8::1".parse().unwrap());
        assert!(v6.starts_with("1.0.0.0.") && v6.ends_with(".8.b.d.0.1.0.0.2.ip6.arpa."), "{v6}");
        assert_eq!(v6.split('.').count(), 32 + 3);
    }

    #[test]
    fn names_and_parents() {
        assert_eq!(fqdn("Example.TEST"), "example.test.");
        assert_eq!(parent("a.b.test."), "b.test.");
        assert_eq!(parent("test."), ".");
        assert_eq!(parent("."), ".");
        assert!(is_subdomain("ns.a.test.", "a.test."));
        assert!(!is_subdomain("ns.ba.test.", "a.test."));
    }
}
