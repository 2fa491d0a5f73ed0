//! Bounds-checked byte reading and length-prefixed writing shared by every codec submodule.
//!
//! Decoding never indexes a slice directly: all access goes through [`Reader`], whose reads return
//! `Truncated`/`Invalid` instead of panicking. Encoders clamp a vector that cannot fit its length
//! prefix to the largest size the prefix can express (whole items only): postura never builds such
//! values, and a clamped field is still self-consistent on the wire where a wrapped length would
//! corrupt everything after it.

use super::CodecError;

/// `CodecError::Invalid` with a formatted detail.
pub(super) fn invalid(what: &'static str, detail: impl Into<String>) -> CodecError {
    CodecError::Invalid { what, detail: detail.into() }
}

/// A cursor over a byte slice.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
    /// Set when the slice's extent was fixed by an enclosing length prefix: running out of bytes
    /// then means the peer's lengths disagree (`Invalid`), not that the input was cut short.
    bounded: bool,
}

impl<'a> Reader<'a> {
    /// A reader over input that may have been cut short (running out is `Truncated`).
    pub(super) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what, bounded: false }
    }

    /// A reader over a slice whose length is known to be complete (running out is `Invalid`).
    pub(super) fn bounded(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what, bounded: true }
    }

    pub(super) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn short(&self, need: usize) -> CodecError {
        if self.bounded {
            invalid(
                self.what,
                format!("a field of {need} bytes overruns its enclosing length ({} left)", self.remaining()),
            )
        } else {
            CodecError::Truncated(self.what)
        }
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let slice = self.pos.checked_add(n).and_then(|end| self.buf.get(self.pos..end)).ok_or_else(|| self.short(n))?;
        self.pos += n;
        Ok(slice)
    }

    pub(super) fn u8(&mut self) -> Result<u8, CodecError> {
        let b = self.take(1)?;
        b.first().copied().ok_or_else(|| self.short(1))
    }

    pub(super) fn u16(&mut self) -> Result<u16, CodecError> {
        match *self.take(2)? {
            [a, b] => Ok(u16::from_be_bytes([a, b])),
            _ => Err(self.short(2)),
        }
    }

    pub(super) fn u24(&mut self) -> Result<usize, CodecError> {
        match *self.take(3)? {
            [a, b, c] => Ok(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c)),
            _ => Err(self.short(3)),
        }
    }

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| self.short(N))
    }

    /// Bytes with a u8 length prefix.
    pub(super) fn vec_u8(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// Bytes with a u16 length prefix.
    pub(super) fn vec_u16(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    /// Bytes with a u24 length prefix.
    pub(super) fn vec_u24(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.u24()?;
        self.take(n)
    }

    /// Everything not read yet.
    pub(super) fn rest(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        rest
    }

    /// Succeeds only when every byte was consumed.
    pub(super) fn finish(self) -> Result<(), CodecError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(invalid(self.what, format!("{n} trailing bytes"))),
        }
    }
}

/// Parse a list of big-endian u16 values that fills `bytes` exactly.
pub(super) fn u16_list(bytes: &[u8], what: &'static str) -> Result<Vec<u16>, CodecError> {
    if bytes.len() % 2 != 0 {
        return Err(invalid(what, format!("odd length {} for a list of u16", bytes.len())));
    }
    let mut r = Reader::bounded(bytes, what);
    let mut items = Vec::with_capacity(bytes.len() / 2);
    while !r.is_empty() {
        items.push(r.u16()?);
    }
    Ok(items)
}

pub(super) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Write the low 24 bits of `v` (callers clamp first).
pub(super) fn put_u24(out: &mut Vec<u8>, v: usize) {
    let v = v.min(U24_MAX);
    out.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8]);
}

pub(super) const U24_MAX: usize = 0xff_ffff;

/// Write `bytes` with a u8 length prefix, clamped to 255 bytes.
pub(super) fn put_vec_u8(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len().min(usize::from(u8::MAX));
    out.push(n as u8);
    out.extend_from_slice(bytes.get(..n).unwrap_or_default());
}

/// Write `bytes` with a u16 length prefix, clamped to 65535 bytes.
pub(super) fn put_vec_u16(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len().min(usize::from(u16::MAX));
    put_u16(out, n as u16);
    out.extend_from_slice(bytes.get(..n).unwrap_or_default());
}

/// Write `bytes` with a u24 length prefix, clamped to 2^24-1 bytes.
pub(super) fn put_vec_u24(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len().min(U24_MAX);
    put_u24(out, n);
    out.extend_from_slice(bytes.get(..n).unwrap_or_default());
}

/// Write a list of u16 values behind a length prefix of `prefix_len` bytes (1 or 2), keeping only
/// as many items as the prefix can count.
pub(super) fn put_u16_list(out: &mut Vec<u8>, prefix_len: usize, items: &[u16]) {
    let max_bytes = if prefix_len == 1 { usize::from(u8::MAX) } else { usize::from(u16::MAX) };
    let items = items.get(..items.len().min(max_bytes / 2)).unwrap_or_default();
    let n = items.len() * 2;
    if prefix_len == 1 {
        out.push(n as u8);
    } else {
        put_u16(out, n as u16);
    }
    for &item in items {
        put_u16(out, item);
    }
}
