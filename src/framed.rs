// The frame of brook's own small files (manifest, checkpoint, segment index): a magic, a
// version, the payload's length and its CRC-32C, so that a torn or damaged file is always
// detected, never misread.
//
//   magic [4] | version u16 | reserved u16 = 0 | payload length u32 | CRC-32C u32 | payload

use crate::crc32c::crc32c;

pub const FRAME_PREFIX_SIZE: usize = 16;

pub fn encode(magic: &[u8; 4], version: u16, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(FRAME_PREFIX_SIZE + payload.len());
    bytes.extend_from_slice(magic);
    bytes.extend_from_slice(&version.to_be_bytes());
    bytes.extend_from_slice(&0u16.to_be_bytes());
    bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    bytes.extend_from_slice(&crc32c(payload).to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// The payload of a frame, or why the bytes are not one.
pub fn decode<'a>(bytes: &'a [u8], magic: &[u8; 4], version: u16) -> Result<&'a [u8], String> {
    if bytes.len() < FRAME_PREFIX_SIZE {
        return Err("cut short".into());
    }
    if &bytes[..4] != magic {
        return Err("bad magic".into());
    }
    let found = u16::from_be_bytes([bytes[4], bytes[5]]);
    if found != version {
        return Err(format!(
            "version {found} is not supported by this brook (knows {version})"
        ));
    }
    let length = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    let crc = u32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    if bytes.len() - FRAME_PREFIX_SIZE != length {
        return Err("length does not match the file".into());
    }
    let payload = &bytes[FRAME_PREFIX_SIZE..];
    if crc32c(payload) != crc {
        return Err("checksum mismatch".into());
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flipped_or_cut_byte_but_the_reserved_ones_is_detected() {
        let bytes = encode(b"TEST", 3, b"some payload");
        assert_eq!(decode(&bytes, b"TEST", 3).unwrap(), b"some payload");
        for index in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[index] ^= 0x20;
            if (6..8).contains(&index) {
                continue;
            }
            assert!(decode(&flipped, b"TEST", 3).is_err(), "byte {index}");
            assert!(decode(&bytes[..index], b"TEST", 3).is_err());
        }
    }
}
