//! The tail of a version-3 Ping or Ack body: optional fields, each
//! `tag · length · value`, and its checked view (smoltcp `wire/` style).
//!
//! [`Tail::new_checked`] walks untrusted bytes once and accepts them only if
//! every field's length stays inside the tail, the tags strictly ascend and the
//! tail fits [`MAX_TAIL_LEN`]; after that, iterating the fields cannot fail.
//! What a field's value means is [`crate::Extensions`]' business, not this view's.

/// The longest tail any version-3 sender may write and every version-3
/// receiver must accept. It is a budget, not the sum of today's fields: the
/// fields defined now take at most [`crate::Extensions::MAX_LEN`] bytes, and a
/// later field is added without a new version only if it fits the rest.
pub const MAX_TAIL_LEN: usize = 128;

/// Why tail bytes were refused; every reason is [`crate::DecodeError::Malformed`]
/// in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TailError {
    /// Longer than [`MAX_TAIL_LEN`].
    TooLong,
    /// A tag or a length is not a valid varint, or a length runs past the end.
    FieldPastEnd,
    /// A tag is not greater than the one before it (a repeat or out of order).
    TagsNotAscending(u32),
    /// A field this crate knows whose value does not decode exactly.
    BadValue(u32),
    /// An unknown field with an even tag: the sender said a receiver must not
    /// act on the frame without understanding it.
    UnknownRequired(u32),
}

impl core::fmt::Display for TailError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TailError::TooLong => write!(f, "tail longer than {MAX_TAIL_LEN} bytes"),
            TailError::FieldPastEnd => f.write_str("tail field runs past the end"),
            TailError::TagsNotAscending(t) => write!(f, "tail tag {t} not above the previous"),
            TailError::BadValue(t) => write!(f, "tail field {t} has a bad value"),
            TailError::UnknownRequired(t) => write!(f, "unknown required tail field {t}"),
        }
    }
}

impl core::error::Error for TailError {}

/// One field of a checked tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TailField<'a> {
    /// The field's tag.
    pub tag: u32,
    /// The field's value bytes (exactly `length` of them).
    pub value: &'a [u8],
}

/// A view of tail bytes whose structure has been checked.
#[derive(Debug, Clone, Copy)]
pub struct Tail<'a> {
    bytes: &'a [u8],
}

impl<'a> Tail<'a> {
    /// Checks the structure of `bytes` (see the module documentation).
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self, TailError> {
        if bytes.len() > MAX_TAIL_LEN {
            return Err(TailError::TooLong);
        }
        let mut rest = bytes;
        let mut previous: Option<u32> = None;
        while !rest.is_empty() {
            let (field, after) = split_field(rest).ok_or(TailError::FieldPastEnd)?;
            if previous.is_some_and(|p| field.tag <= p) {
                return Err(TailError::TagsNotAscending(field.tag));
            }
            previous = Some(field.tag);
            rest = after;
        }
        Ok(Tail { bytes })
    }

    /// The fields, in ascending tag order.
    pub fn fields(&self) -> TailFields<'a> {
        TailFields { rest: self.bytes }
    }

    /// The tail's bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// The fields of a [`Tail`], in order.
#[derive(Debug, Clone)]
pub struct TailFields<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for TailFields<'a> {
    type Item = TailField<'a>;

    fn next(&mut self) -> Option<TailField<'a>> {
        // Checked by `Tail::new_checked`: a field that does not split cannot occur.
        let (field, after) = split_field(self.rest)?;
        self.rest = after;
        Some(field)
    }
}

/// Splits the first field off `bytes`; `None` if it is not whole.
fn split_field(bytes: &[u8]) -> Option<(TailField<'_>, &[u8])> {
    let (tag, rest) = take_u32(bytes)?;
    let (len, rest) = take_u32(rest)?;
    let len = usize::try_from(len).ok()?;
    let value = rest.get(..len)?;
    let after = rest.get(len..)?;
    Some((TailField { tag, value }, after))
}

/// Reads an unsigned LEB128 varint of at most `max_len` bytes, the last of
/// which may not exceed `last_max`: the rule postcard applies to the body, so
/// body and tail read integers alike.
fn take_varint(bytes: &[u8], max_len: usize, last_max: u8) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(max_len) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if i + 1 == max_len && byte > last_max {
                return None;
            }
            return Some((value, bytes.get(i + 1..)?));
        }
    }
    None
}

/// A u32 varint (at most 5 bytes) and the bytes after it.
pub(crate) fn take_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (value, rest) = take_varint(bytes, 5, 0x0f)?;
    Some((u32::try_from(value).ok()?, rest))
}

/// A u64 varint (at most 10 bytes) and the bytes after it.
pub(crate) fn take_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    take_varint(bytes, 10, 0x01)
}

/// Writes into a byte slice front to back; every write is checked, none panics.
pub(crate) struct Writer<'a> {
    out: &'a mut [u8],
    len: usize,
}

/// The output slice is full.
#[derive(Debug)]
pub(crate) struct Full;

impl<'a> Writer<'a> {
    pub(crate) fn new(out: &'a mut [u8]) -> Self {
        Writer { out, len: 0 }
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// What was written so far.
    pub(crate) fn written(&self) -> &[u8] {
        self.out.get(..self.len).unwrap_or(&[])
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> Result<(), Full> {
        let end = self.len + bytes.len();
        self.out
            .get_mut(self.len..end)
            .ok_or(Full)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    pub(crate) fn byte(&mut self, byte: u8) -> Result<(), Full> {
        self.bytes(&[byte])
    }

    /// An unsigned LEB128 varint, as postcard writes it (shortest form).
    pub(crate) fn varint(&mut self, mut value: u64) -> Result<(), Full> {
        loop {
            let low = value.to_le_bytes()[0] & 0x7f;
            value >>= 7;
            if value == 0 {
                return self.byte(low);
            }
            self.byte(low | 0x80)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(value: u64) -> ([u8; 10], usize) {
        let mut out = [0u8; 10];
        let mut w = Writer::new(&mut out);
        w.varint(value).expect("fits");
        let len = w.len();
        (out, len)
    }

    #[test]
    fn varints_agree_with_postcard() {
        for value in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let (ours, len) = varint(value);
            let mut theirs = [0u8; 10];
            let theirs = postcard::to_slice(&value, &mut theirs).expect("fits");
            assert_eq!(&ours[..len], &theirs[..]);
            assert_eq!(take_u64(&ours[..len]), Some((value, &[][..])));
        }
        // The widest u32 and one past it.
        assert_eq!(
            take_u32(&[0xff, 0xff, 0xff, 0xff, 0x0f]),
            Some((u32::MAX, &[][..]))
        );
        assert_eq!(take_u32(&[0xff, 0xff, 0xff, 0xff, 0x10]), None);
        assert_eq!(take_u32(&[0x80, 0x80]), None);
    }

    #[test]
    fn a_tail_is_checked_before_it_is_read() {
        assert!(Tail::new_checked(&[]).is_ok());
        let good = [1, 1, 7, 4, 0, 9, 2, 0xaa, 0xbb];
        let fields: Vec<_> = Tail::new_checked(&good).expect("valid").fields().collect();
        assert_eq!(
            fields,
            [
                TailField {
                    tag: 1,
                    value: &[7]
                },
                TailField { tag: 4, value: &[] },
                TailField {
                    tag: 9,
                    value: &[0xaa, 0xbb]
                },
            ]
        );
        let refused = |bytes: &[u8]| Tail::new_checked(bytes).err();
        assert_eq!(refused(&[1, 2, 7]), Some(TailError::FieldPastEnd));
        assert_eq!(refused(&[1]), Some(TailError::FieldPastEnd));
        assert_eq!(refused(&[3, 0, 3, 0]), Some(TailError::TagsNotAscending(3)));
        assert_eq!(refused(&[3, 0, 1, 0]), Some(TailError::TagsNotAscending(1)));
        assert_eq!(refused(&[0u8; MAX_TAIL_LEN + 1]), Some(TailError::TooLong));
    }
}
