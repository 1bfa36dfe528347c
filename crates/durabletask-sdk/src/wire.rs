//! A minimal reader of the protobuf wire format, for the hot messages the executors read straight from the request
//! bytes instead of materialising them with prost (see `orchestration::request_bytes`). It borrows from the buffer
//! and never allocates.
//!
//! It reads what prost reads, and refuses ([`Unsupported`]) what it does not handle itself: groups (a wire format
//! prost still skips) and malformed framing. The callers then hand the same bytes to prost, so that odd but valid
//! input is read exactly as prost reads it, and invalid input fails with prost's own error.

use prost_types::Timestamp;

/// The bytes are malformed, or use a wire feature this reader leaves to prost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unsupported;

/// The value of one field, by wire type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldValue<'a> {
    /// Wire type 0: a varint (int32, int64, uint*, bool, enum), decoded when asked for.
    Varint(Varint<'a>),
    /// Wire type 2: length-delimited (string, bytes, message, packed repeated).
    Bytes(&'a [u8]),
    /// Wire types 1 and 5: fixed-width numbers, which the messages read here do not use.
    Fixed,
}

/// The bytes of one varint, checked: at most ten, the last one without the continuation bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Varint<'a>(&'a [u8]);

impl Varint<'_> {
    /// The number: seven bits a byte, least significant first.
    #[inline]
    pub(crate) fn value(self) -> u64 {
        match self.0 {
            [byte] => u64::from(*byte),
            bytes => bytes
                .iter()
                .rev()
                .fold(0, |value, byte| (value << 7) | u64::from(byte & 0x7f)),
        }
    }
}

/// One field with its raw bytes (key included): `(field number, value, raw)`.
pub(crate) type RawField<'a> = (u32, FieldValue<'a>, &'a [u8]);

/// The fields of one message, in wire order: `(field number, value)`.
#[derive(Debug, Clone)]
pub(crate) struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    pub(crate) fn new(message: &'a [u8]) -> Self {
        Self { rest: message }
    }

    /// How many bytes are left to read.
    #[cfg(test)]
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// The next field with its raw bytes (key included), for copying it elsewhere as it is.
    pub(crate) fn next_with_raw(&mut self) -> Option<Result<RawField<'a>, Unsupported>> {
        let before = self.rest;
        let field = self.next()?;
        Some(field.map(|(number, value)| (number, value, &before[..before.len() - self.rest.len()])))
    }

    #[inline(always)]
    fn varint(&mut self) -> Result<u64, Unsupported> {
        // Keys, lengths and small numbers are one byte: the common case, without the loop.
        if let Some((&byte, rest)) = self.rest.split_first() {
            if byte < 0x80 {
                self.rest = rest;
                return Ok(u64::from(byte));
            }
        }
        Ok(self.skip_varint()?.value())
    }

    /// Steps over one varint, whose bytes are returned. Negative int32s (the event id -1 of every episode's start
    /// and end) take all ten bytes, so the first eight are looked at as one word rather than byte by byte.
    #[inline(always)]
    fn skip_varint(&mut self) -> Result<Varint<'a>, Unsupported> {
        let bytes = self.rest;
        let is_last = |byte: &u8| *byte < 0x80;
        let length = match bytes.first_chunk::<8>() {
            Some(word) => match !u64::from_le_bytes(*word) & 0x8080_8080_8080_8080 {
                0 => 9 + bytes[8..].iter().take(2).position(is_last).ok_or(Unsupported)?,
                last_bytes => last_bytes.trailing_zeros() as usize / 8 + 1,
            },
            None => 1 + bytes.iter().position(is_last).ok_or(Unsupported)?,
        };
        // As prost: the tenth byte may only carry the top bit of a u64.
        if length == 10 && bytes[9] > 1 {
            return Err(Unsupported);
        }
        let (varint, rest) = bytes.split_at(length);
        self.rest = rest;
        Ok(Varint(varint))
    }

    #[inline(always)]
    fn take(&mut self, length: u64) -> Result<&'a [u8], Unsupported> {
        let length = usize::try_from(length).map_err(|_| Unsupported)?;
        if length > self.rest.len() {
            return Err(Unsupported);
        }
        let (taken, rest) = self.rest.split_at(length);
        self.rest = rest;
        Ok(taken)
    }

    #[inline(always)]
    fn field(&mut self) -> Result<(u32, FieldValue<'a>), Unsupported> {
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| Unsupported)?;
        if number == 0 {
            return Err(Unsupported);
        }
        let value = match key & 7 {
            0 => FieldValue::Varint(self.skip_varint()?),
            1 => {
                self.take(8)?;
                FieldValue::Fixed
            }
            2 => {
                let length = self.varint()?;
                FieldValue::Bytes(self.take(length)?)
            }
            5 => {
                self.take(4)?;
                FieldValue::Fixed
            }
            _ => return Err(Unsupported),
        };
        Ok((number, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, FieldValue<'a>), Unsupported>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let field = self.field();
        if field.is_err() {
            self.rest = &[];
        }
        Some(field)
    }
}

/// Reads an `int32` field's varint as prost does (the low 32 bits).
pub(crate) fn int32(value: FieldValue<'_>) -> Result<i32, Unsupported> {
    match value {
        FieldValue::Varint(varint) => Ok(varint.value() as i32),
        _ => Err(Unsupported),
    }
}

/// Reads a `string` field.
pub(crate) fn string(value: FieldValue<'_>) -> Result<&str, Unsupported> {
    match value {
        FieldValue::Bytes(bytes) => std::str::from_utf8(bytes).map_err(|_| Unsupported),
        _ => Err(Unsupported),
    }
}

/// Reads a length-delimited (message) field's bytes.
pub(crate) fn message(value: FieldValue<'_>) -> Result<&[u8], Unsupported> {
    match value {
        FieldValue::Bytes(bytes) => Ok(bytes),
        _ => Err(Unsupported),
    }
}

/// Reads a `google.protobuf.StringValue` message. A field read twice is left to prost (which merges messages).
pub(crate) fn string_value(value: FieldValue<'_>) -> Result<&str, Unsupported> {
    let mut text = None;
    for field in Fields::new(message(value)?) {
        if let (1, value) = field? {
            once(&mut text, string(value)?)?;
        }
    }
    Ok(text.unwrap_or_default())
}

/// Reads a `google.protobuf.Timestamp` message.
pub(crate) fn timestamp(value: FieldValue<'_>) -> Result<Timestamp, Unsupported> {
    let (mut seconds, mut nanos) = (None, None);
    for field in Fields::new(message(value)?) {
        match field? {
            (1, FieldValue::Varint(varint)) => once(&mut seconds, varint.value() as i64)?,
            (2, FieldValue::Varint(varint)) => once(&mut nanos, varint.value() as i32)?,
            (1 | 2, _) => return Err(Unsupported),
            _ => {}
        }
    }
    Ok(Timestamp {
        seconds: seconds.unwrap_or_default(),
        nanos: nanos.unwrap_or_default(),
    })
}

/// Sets a field read for the first time; a second occurrence is left to prost, whose merge rules then apply.
pub(crate) fn once<T>(slot: &mut Option<T>, value: T) -> Result<(), Unsupported> {
    match slot {
        Some(_) => Err(Unsupported),
        None => {
            *slot = Some(value);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::proto;

    #[test]
    fn reads_the_fields_prost_writes() {
        let event = proto::TaskCompletedEvent {
            task_scheduled_id: -7,
            result: Some("\"héllo\"".into()),
        };
        let bytes = event.encode_to_vec();
        let fields: Vec<_> = Fields::new(&bytes).collect::<Result<_, _>>().unwrap();
        assert_eq!(fields.len(), 2);
        assert_eq!(int32(fields[0].1), Ok(-7));
        assert_eq!(string_value(fields[1].1), Ok("\"héllo\""));
        let time = prost_types::Timestamp {
            seconds: 1_704_067_200,
            nanos: 123,
        };
        let encoded = time.encode_to_vec();
        assert_eq!(timestamp(FieldValue::Bytes(&encoded)), Ok(time));
    }

    #[test]
    fn varints_of_every_length_read_as_prost_writes_them() {
        let mut values = vec![0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX, (-1i64) as u64];
        values.extend((0..64).map(|bit| 1u64 << bit));
        values.extend((0..64).map(|bit| (1u64 << bit) - 1));
        for value in values {
            for padding in [0usize, 1, 12] {
                let mut bytes = Vec::new();
                prost::encoding::encode_varint(value, &mut bytes);
                let length = bytes.len();
                bytes.extend(std::iter::repeat_n(0x55, padding));
                let mut fields = Fields::new(&bytes);
                assert_eq!(fields.varint(), Ok(value), "{value} with {padding} bytes after it");
                assert_eq!(fields.remaining(), padding, "{value}: {length} bytes read");
            }
        }
    }

    #[test]
    fn malformed_framing_and_groups_are_left_to_prost() {
        for bytes in [
            &[0x0a, 0x05, b'a'][..],                                             // length past the end
            &[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02], // varint past 64 bits
            &[0x0b, 0x0c],                                                       // a group
            &[0x00, 0x01],                                                       // field number 0
            &[0x08],                                                             // a key without its value
        ] {
            assert!(
                Fields::new(bytes).any(|field| field.is_err()),
                "{bytes:?} should be refused"
            );
        }
        assert_eq!(string(FieldValue::Bytes(&[0xff])), Err(Unsupported), "not UTF-8");
        let twice = [0x0a, 0x01, b'a', 0x0a, 0x01, b'b'];
        assert_eq!(string_value(FieldValue::Bytes(&twice)), Err(Unsupported));
    }
}
