// CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2 and of brook's own files.
// Written here rather than taken from a crate: it is short, and it runs unchanged on wasm32
// (table lookups, no SIMD intrinsics: wasm has no carry-less multiply). The tables are built
// at the first use, not at compile time: 24 KiB of data the .wasm would otherwise carry for
// every download.
//
// Slicing-by-16 alone waits on each step's lookups before the next can start. Long inputs go
// three streams at a time instead: three blocks, each with its own register, in one loop,
// then joined. The register's update is linear, so for blocks X, Y, Z of `STREAM_BLOCK` bytes
//   R(r, XYZ) = skip(R(r, X), 2 blocks) ^ skip(R(0, Y), 1 block) ^ R(0, Z)
// where skip(r, n) is r advanced past n zero bytes: a fixed linear map of r's 32 bits, so
// four lookups in tables made for n.

/// Reflected form of the Castagnoli polynomial 0x1EDC6F41.
const POLYNOMIAL: u32 = 0x82F6_3B78;

/// Bytes a step of slicing takes. Sixteen rather than eight: half the loop's overhead per
/// byte, for twice the tables.
const SLICES: usize = 16;

/// Bytes of each of the three streams per round: long enough that joining them (eight
/// lookups) costs little, short enough that a batch of one 1 KiB record uses them.
const STREAM_BLOCK: usize = 256;

struct Tables {
    slices: [[u32; 256]; SLICES],
    /// skip(r, STREAM_BLOCK) and skip(r, 2 * STREAM_BLOCK), by each byte of r.
    skip_one: [[u32; 256]; 4],
    skip_two: [[u32; 256]; 4],
}

static TABLES: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();

fn build_tables() -> Tables {
    let mut slices = [[0u32; 256]; SLICES];
    for (byte, entry) in slices[0].iter_mut().enumerate() {
        let mut crc = byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLYNOMIAL
            } else {
                crc >> 1
            };
        }
        *entry = crc;
    }
    for byte in 0..256 {
        for slice in 1..SLICES {
            let previous = slices[slice - 1][byte];
            slices[slice][byte] = (previous >> 8) ^ slices[0][(previous & 0xff) as usize];
        }
    }
    let skip_table = |zeros: usize| {
        // The map is linear: where each of the 32 bits goes, then every byte value as the
        // sum of its bits.
        let mut bits = [0u32; 32];
        for (bit, image) in bits.iter_mut().enumerate() {
            let mut crc = 1u32 << bit;
            for _ in 0..zeros {
                crc = (crc >> 8) ^ slices[0][(crc & 0xff) as usize];
            }
            *image = crc;
        }
        let mut table = [[0u32; 256]; 4];
        for (lane, row) in table.iter_mut().enumerate() {
            for (byte, entry) in row.iter_mut().enumerate() {
                *entry = (0..8)
                    .filter(|bit| byte >> bit & 1 == 1)
                    .fold(0, |sum, bit| sum ^ bits[8 * lane + bit]);
            }
        }
        table
    };
    Tables {
        skip_one: skip_table(STREAM_BLOCK),
        skip_two: skip_table(2 * STREAM_BLOCK),
        slices,
    }
}

/// The register after 16 more bytes. Inlined: the three streams' steps interleave.
#[inline(always)]
fn step(t: &[[u32; 256]; SLICES], crc: u32, chunk: &[u8]) -> u32 {
    let word =
        |at: usize| u32::from_le_bytes([chunk[at], chunk[at + 1], chunk[at + 2], chunk[at + 3]]);
    let (a, b, c, d) = (word(0) ^ crc, word(4), word(8), word(12));
    t[15][(a & 0xff) as usize]
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
        ^ t[0][(d >> 24) as usize]
}

fn skip(table: &[[u32; 256]; 4], crc: u32) -> u32 {
    table[0][(crc & 0xff) as usize]
        ^ table[1][((crc >> 8) & 0xff) as usize]
        ^ table[2][((crc >> 16) & 0xff) as usize]
        ^ table[3][(crc >> 24) as usize]
}

/// The CRC-32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c_update(0, data)
}

/// Continues a CRC-32C: `crc32c_update(crc32c(a), b) == crc32c(a ++ b)`.
pub fn crc32c_update(crc: u32, data: &[u8]) -> u32 {
    let t = TABLES.get_or_init(build_tables);
    let mut crc = !crc;
    let mut rounds = data.chunks_exact(3 * STREAM_BLOCK);
    for round in &mut rounds {
        let (first, rest) = round.split_at(STREAM_BLOCK);
        let (second, third) = rest.split_at(STREAM_BLOCK);
        let (mut a, mut b, mut c) = (crc, 0, 0);
        let steps = first
            .chunks_exact(SLICES)
            .zip(second.chunks_exact(SLICES))
            .zip(third.chunks_exact(SLICES));
        for ((x, y), z) in steps {
            a = step(&t.slices, a, x);
            b = step(&t.slices, b, y);
            c = step(&t.slices, c, z);
        }
        crc = skip(&t.skip_two, a) ^ skip(&t.skip_one, b) ^ c;
    }
    let mut chunks = rounds.remainder().chunks_exact(SLICES);
    for chunk in &mut chunks {
        crc = step(&t.slices, crc, chunk);
    }
    for &byte in chunks.remainder() {
        crc = (crc >> 8) ^ t.slices[0][((crc ^ byte as u32) & 0xff) as usize];
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

    #[test]
    fn rounds_of_three_streams_match_bytewise() {
        // Exactly one and two rounds, and one byte either side.
        let data: Vec<u8> = (0..6 * STREAM_BLOCK + 1)
            .map(|i| (i * 131 + 7) as u8)
            .collect();
        for len in [
            3 * STREAM_BLOCK - 1,
            3 * STREAM_BLOCK,
            3 * STREAM_BLOCK + 1,
            6 * STREAM_BLOCK,
            6 * STREAM_BLOCK + 1,
        ] {
            assert_eq!(crc32c(&data[..len]), bytewise(&data[..len]), "{len} bytes");
        }
    }

    proptest! {
        #[test]
        fn slicing_matches_bytewise(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(crc32c(&data), bytewise(&data));
        }

        // Past 3 * STREAM_BLOCK the three streams run: every length around one round, two
        // rounds and a remainder.
        #[test]
        fn streams_match_bytewise(data in proptest::collection::vec(any::<u8>(), 700..2400)) {
            prop_assert_eq!(crc32c(&data), bytewise(&data));
        }

        #[test]
        fn streams_continue(a in proptest::collection::vec(any::<u8>(), 0..1600),
                            b in proptest::collection::vec(any::<u8>(), 0..1600)) {
            let joined: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
            prop_assert_eq!(crc32c_update(crc32c(&a), &b), crc32c(&joined));
        }

        #[test]
        fn update_continues(a in proptest::collection::vec(any::<u8>(), 0..64),
                            b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let joined: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
            prop_assert_eq!(crc32c_update(crc32c(&a), &b), crc32c(&joined));
        }
    }
}
