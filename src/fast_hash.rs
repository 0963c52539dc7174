// A small, fast hasher for the maps on the append path (the batch cache, a file store's
// segments and dirty files), whose keys the log makes itself: partition numbers, offsets,
// its own file names. std's SipHash resists keys chosen to collide, which costs three hashes
// of 12-30 bytes on every append of a send of one; nothing here takes keys from a network,
// and the worst a collision does is slow one map down.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Multiply-rotate over 8-byte words (as rustc's FxHash does), with a final mix so that the
/// top bits, which hashbrown's probe groups use, depend on every input bit.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length keeps "ab" and "ab\0" apart.
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, value: u8) {
        self.add(value as u64);
    }

    #[inline]
    fn write_u32(&mut self, value: u32) {
        self.add(value as u64);
    }

    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    #[inline]
    fn write_i64(&mut self, value: i64) {
        self.add(value as u64);
    }

    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // splitmix64's finalizer.
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }
}

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;
pub type FastSet<T> = HashSet<T, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    fn hash<T: Hash>(value: &T) -> u64 {
        BuildHasherDefault::<FastHasher>::default().hash_one(value)
    }

    #[test]
    fn keys_of_the_log_spread_over_the_top_bits() {
        // hashbrown picks a probe group by the low bits and tags entries with the top seven:
        // the keys the cache sees (few partitions, consecutive offsets) must not bunch there.
        let mut tags = FastSet::default();
        let mut groups = FastSet::default();
        for partition in 0..4u32 {
            for offset in 0..256i64 {
                let h = hash(&(partition, offset));
                tags.insert(h >> 57);
                groups.insert(h & 1023);
            }
        }
        assert_eq!(tags.len(), 128);
        assert!(groups.len() > 600, "{} of 1024 groups used", groups.len());
    }

    #[test]
    fn strings_differing_in_a_trailing_zero_or_a_late_byte_differ() {
        assert_ne!(hash(&"ab"), hash(&"ab\0"));
        assert_ne!(
            hash(&b"abcdefgh".as_slice()),
            hash(&b"abcdefgh\0".as_slice())
        );
        assert_ne!(
            hash(&"t-0/00000000000000000000.log"),
            hash(&"t-0/00000000000000000001.log")
        );
        let map: FastMap<String, u32> = (0..1000).map(|i| (format!("bench-{i}"), i)).collect();
        assert!((0..1000).all(|i| map[&format!("bench-{i}")] == i));
    }
}
