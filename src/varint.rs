// Zigzag variable-length integers as Kafka writes them inside RecordBatch v2 records
// (protobuf's sint32/sint64 encoding), plus a bounds-checked big-endian byte reader.
// Decoding never panics: every read checks the remaining length first.

/// Bytes needed for `value` as a zigzag varint.
pub fn varint_size(value: i32) -> usize {
    varlong_size(value as i64)
}

/// Bytes needed for `value` as a zigzag varlong.
pub fn varlong_size(value: i64) -> usize {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    let mut size = 1;
    while zigzag >= 0x80 {
        zigzag >>= 7;
        size += 1;
    }
    size
}

pub fn put_varint(out: &mut Vec<u8>, value: i32) {
    put_varlong(out, value as i64)
}

pub fn put_varlong(out: &mut Vec<u8>, value: i64) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    while zigzag >= 0x80 {
        out.push((zigzag as u8) | 0x80);
        zigzag >>= 7;
    }
    out.push(zigzag as u8);
}

/// Why a read failed: the input ended early, or it can never be valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    Truncated,
    Malformed(&'static str),
}

/// A cursor over a byte slice. Reads advance it; a failed read leaves it where it was.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, position: 0 }
    }

    pub fn position(&self) -> usize {
        self.position
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    pub fn take(&mut self, count: usize) -> Result<&'a [u8], ReadError> {
        if count > self.remaining() {
            return Err(ReadError::Truncated);
        }
        let slice = &self.bytes[self.position..self.position + count];
        self.position += count;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ReadError> {
        let slice = self.take(N)?;
        let mut array = [0u8; N];
        array.copy_from_slice(slice);
        Ok(array)
    }

    pub fn i8(&mut self) -> Result<i8, ReadError> {
        Ok(i8::from_be_bytes(self.array()?))
    }

    pub fn i16(&mut self) -> Result<i16, ReadError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    pub fn i32(&mut self) -> Result<i32, ReadError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, ReadError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub fn i64(&mut self) -> Result<i64, ReadError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, ReadError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A zigzag varint of at most 5 bytes, as Kafka's `ByteUtils.readVarint` accepts.
    pub fn varint(&mut self) -> Result<i32, ReadError> {
        let start = self.position;
        let raw = self
            .unsigned_varint(5)
            .inspect_err(|_| self.position = start)?;
        if raw > u32::MAX as u64 {
            self.position = start;
            return Err(ReadError::Malformed("varint does not fit in 32 bits"));
        }
        let raw = raw as u32;
        Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    /// A zigzag varlong of at most 10 bytes.
    pub fn varlong(&mut self) -> Result<i64, ReadError> {
        let start = self.position;
        let raw = self
            .unsigned_varint(10)
            .inspect_err(|_| self.position = start)?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    fn unsigned_varint(&mut self, bytes_max: u32) -> Result<u64, ReadError> {
        let mut value: u64 = 0;
        for index in 0..bytes_max {
            // Read in place (not through `array`): this runs for every field of every record.
            let &byte = self.bytes.get(self.position).ok_or(ReadError::Truncated)?;
            self.position += 1;
            let shift = 7 * index;
            let bits = (byte & 0x7f) as u64;
            // The tenth byte of a varlong may only carry the top bit of the 64.
            if shift == 63 && bits > 1 {
                return Err(ReadError::Malformed("varlong does not fit in 64 bits"));
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ReadError::Malformed("varint is too long"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zigzag_examples() {
        // Protobuf's documented zigzag mapping.
        for (value, encoded) in [
            (0i64, vec![0u8]),
            (-1, vec![1]),
            (1, vec![2]),
            (-2, vec![3]),
            (63, vec![0x7e]),
            (-64, vec![0x7f]),
            (64, vec![0x80, 0x01]),
            (i32::MAX as i64, vec![0xfe, 0xff, 0xff, 0xff, 0x0f]),
            (i32::MIN as i64, vec![0xff, 0xff, 0xff, 0xff, 0x0f]),
        ] {
            let mut out = Vec::new();
            put_varlong(&mut out, value);
            assert_eq!(out, encoded, "{value}");
            assert_eq!(varlong_size(value), encoded.len());
        }
    }

    #[test]
    fn overlong_and_truncated_inputs_are_errors() {
        assert_eq!(Reader::new(&[0x80]).varint(), Err(ReadError::Truncated));
        assert!(matches!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).varint(),
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(
            Reader::new(&[0xff; 11]).varlong(),
            Err(ReadError::Malformed(_))
        ));
        let mut reader = Reader::new(&[0x80]);
        assert!(reader.varlong().is_err());
        assert_eq!(
            reader.position(),
            0,
            "a failed read does not move the cursor"
        );
    }

    proptest! {
        #[test]
        fn varint_round_trip(value in any::<i32>()) {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            prop_assert_eq!(out.len(), varint_size(value));
            let mut reader = Reader::new(&out);
            prop_assert_eq!(reader.varint(), Ok(value));
            prop_assert_eq!(reader.remaining(), 0);
        }

        #[test]
        fn varlong_round_trip(value in any::<i64>()) {
            let mut out = Vec::new();
            put_varlong(&mut out, value);
            prop_assert_eq!(out.len(), varlong_size(value));
            prop_assert_eq!(Reader::new(&out).varlong(), Ok(value));
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            let _ = Reader::new(&bytes).varint();
            let _ = Reader::new(&bytes).varlong();
        }
    }
}
