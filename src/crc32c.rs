// CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2 and of brook's own files.
// Written here rather than taken from a crate: it is forty lines, and it runs unchanged on
// wasm32 (slicing-by-16, no SIMD intrinsics: wasm has no carry-less multiply). The tables
// are built at the first use, not at compile time: 16 KiB of data the .wasm would otherwise
// carry for every download.

/// Reflected form of the Castagnoli polynomial 0x1EDC6F41.
const POLYNOMIAL: u32 = 0x82F6_3B78;

/// Bytes a step of the main loop takes. Sixteen rather than eight: half the loop's overhead
/// per byte, for twice the tables.
const SLICES: usize = 16;

static TABLES: std::sync::OnceLock<[[u32; 256]; SLICES]> = std::sync::OnceLock::new();

fn build_tables() -> [[u32; 256]; SLICES] {
    let mut tables = [[0u32; 256]; SLICES];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = byte as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLYNOMIAL
            } else {
                crc >> 1
            };
            bit += 1;
        }
        tables[0][byte] = crc;
        byte += 1;
    }
    let mut byte = 0;
    while byte < 256 {
        let mut slice = 1;
        while slice < SLICES {
            let previous = tables[slice - 1][byte];
            tables[slice][byte] = (previous >> 8) ^ tables[0][(previous & 0xff) as usize];
            slice += 1;
        }
        byte += 1;
    }
    tables
}

/// The CRC-32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c_update(0, data)
}

/// Continues a CRC-32C: `crc32c_update(crc32c(a), b) == crc32c(a ++ b)`.
pub fn crc32c_update(crc: u32, data: &[u8]) -> u32 {
    let t = TABLES.get_or_init(build_tables);
    let mut crc = !crc;
    let mut chunks = data.chunks_exact(SLICES);
    for chunk in &mut chunks {
        let word = |at: usize| {
            u32::from_le_bytes([chunk[at], chunk[at + 1], chunk[at + 2], chunk[at + 3]])
        };
        let (a, b, c, d) = (word(0) ^ crc, word(4), word(8), word(12));
        crc = t[15][(a & 0xff) as usize]
            ^ t[14][((a >> 8) & 0xff) as usize]
            ^ t[13][((a >> 16) & 0xff) as usize]
            ^ t[12][(a >> 24) as usize]
            ^ t[11][(b & 0xff) as usize]
            ^ t[10][((b >> 8) & 0xff) as usize]
            ^ t[9][((b >> 16) & 0xff) as usize]
            ^ t[8][(b >> 24) as usize]
            ^ t[7][(c & 0xff) as usize]
            ^ t[6][((c >> 8) & 0xff) as usize]
            ^ t[5][((c >> 16) & 0xff) as usize]
            ^ t[4][(c >> 24) as usize]
            ^ t[3][(d & 0xff) as usize]
            ^ t[2][((d >> 8) & 0xff) as usize]
            ^ t[1][((d >> 16) & 0xff) as usize]
            ^ t[0][(d >> 24) as usize];
    }
    for &byte in chunks.remainder() {
        crc = (crc >> 8) ^ t[0][((crc ^ byte as u32) & 0xff) as usize];
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytewise(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in data {
            crc ^= byte as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ POLYNOMIAL
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn known_vectors() {
        // The standard check value, and the iSCSI vectors of RFC 3720 appendix B.4.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
        let ascending: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c(&ascending), 0x46DD_794E);
        let descending: Vec<u8> = (0u8..32).rev().collect();
        assert_eq!(crc32c(&descending), 0x113F_DB5C);
        assert_eq!(crc32c(b""), 0);
    }

    proptest! {
        #[test]
        fn slicing_matches_bytewise(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(crc32c(&data), bytewise(&data));
        }

        #[test]
        fn update_continues(a in proptest::collection::vec(any::<u8>(), 0..64),
                            b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let joined: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
            prop_assert_eq!(crc32c_update(crc32c(&a), &b), crc32c(&joined));
        }
    }
}
