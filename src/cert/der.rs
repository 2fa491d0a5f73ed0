//! A minimal DER reader and writer for the structures x509-parser does not cover (OCSP requests
//! and responses, the TLS Feature extension). Every read is bounds-checked and returns `None` on
//! malformed input; nesting is walked by the caller, one level at a time, so depth is bounded by
//! the code, not by the input.

/// One DER element: its tag byte, its content and the whole encoding (tag + length + content).
#[derive(Debug, Clone, Copy)]
pub struct Element<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    pub raw: &'a [u8],
}

pub const TAG_INTEGER: u8 = 0x02;
pub const TAG_BIT_STRING: u8 = 0x03;
pub const TAG_OCTET_STRING: u8 = 0x04;
pub const TAG_NULL: u8 = 0x05;
pub const TAG_OID: u8 = 0x06;
pub const TAG_ENUMERATED: u8 = 0x0a;
pub const TAG_GENERALIZED_TIME: u8 = 0x18;
pub const TAG_SEQUENCE: u8 = 0x30;

/// Context-specific tag number `n`, constructed.
pub const fn context(n: u8) -> u8 {
    0xa0 | n
}

/// Reads consecutive elements from a byte slice.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next element, whatever its tag. Only single-byte tags and definite lengths of up to
    /// four bytes are accepted (DER never needs more for what is read here).
    pub fn next(&mut self) -> Option<Element<'a>> {
        let bytes = self.rest;
        let tag = *bytes.first()?;
        if tag & 0x1f == 0x1f {
            return None;
        }
        let first = *bytes.get(1)? as usize;
        let (length, header) = if first < 0x80 {
            (first, 2)
        } else {
            let count = first & 0x7f;
            if count == 0 || count > 4 {
                return None;
            }
            let mut length = 0usize;
            for index in 0..count {
                length = (length << 8) | *bytes.get(2 + index)? as usize;
            }
            (length, 2 + count)
        };
        let end = header.checked_add(length)?;
        let raw = bytes.get(..end)?;
        let content = raw.get(header..)?;
        self.rest = bytes.get(end..)?;
        Some(Element { tag, content, raw })
    }

    /// The next element if it has `tag`.
    pub fn expect(&mut self, tag: u8) -> Option<Element<'a>> {
        let mut peek = *self;
        let element = peek.next()?;
        if element.tag != tag {
            return None;
        }
        *self = peek;
        Some(element)
    }

    /// The next element if it has `tag`; nothing is consumed otherwise.
    pub fn optional(&mut self, tag: u8) -> Option<Element<'a>> {
        self.expect(tag)
    }
}

impl<'a> Element<'a> {
    /// A reader over this element's content.
    pub fn reader(&self) -> Reader<'a> {
        Reader::new(self.content)
    }
}

/// Parses `bytes` as exactly one element with `tag` (no trailing data).
pub fn single(bytes: &[u8], tag: u8) -> Option<Element<'_>> {
    let mut reader = Reader::new(bytes);
    let element = reader.expect(tag)?;
    reader.is_empty().then_some(element)
}

/// A GeneralizedTime (`YYYYMMDDHHMMSSZ`, optional fraction) as Unix seconds.
pub fn generalized_time(element: &Element<'_>) -> Option<i64> {
    if element.tag != TAG_GENERALIZED_TIME {
        return None;
    }
    let text = std::str::from_utf8(element.content).ok()?;
    let text = text.strip_suffix('Z')?;
    let main = text.split('.').next()?;
    if main.len() != 14 || !main.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| main.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(4..6)?, number(6..8)?);
    let (hour, minute, second) = (number(8..10)?, number(10..12)?, number(12..14)?);
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = time::Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
    let clock =
        time::Time::from_hms(u8::try_from(hour).ok()?, u8::try_from(minute).ok()?, u8::try_from(second).ok()?).ok()?;
    Some(time::PrimitiveDateTime::new(date, clock).assume_utc().unix_timestamp())
}

/// Encodes one element.
pub fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let length = content.len();
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes = length.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// Encodes a SEQUENCE of already-encoded elements.
pub fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    encode(TAG_SEQUENCE, &parts.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_short_and_long_lengths() {
        for size in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; size];
            let encoded = encode(TAG_OCTET_STRING, &content);
            let element = single(&encoded, TAG_OCTET_STRING).expect("decodes");
            assert_eq!(element.content.len(), size);
            for cut in 0..encoded.len().min(300) {
                assert!(single(&encoded[..cut], TAG_OCTET_STRING).is_none());
            }
        }
    }

    #[test]
    fn generalized_time_is_read_as_unix_seconds() {
        let element = single(b"\x18\x0f20260315000000Z", TAG_GENERALIZED_TIME).expect("element");
        assert_eq!(generalized_time(&element), Some(1_773_532_800));
        let bad = single(b"\x18\x0f2026031500000aZ", TAG_GENERALIZED_TIME).expect("element");
        assert_eq!(generalized_time(&bad), None);
    }
}
