// Producer-side placement: which partition a message goes to. A keyed message lands on the
// same partition number as with Kafka's Java client (murmur2 of the key bytes), so an app
// that moves to a real cluster keeps its per-key order.

use crate::error::{Error, ErrorKind, Quoted, Result};

/// Kafka's `Utils.murmur2`, bit for bit (seed 0x9747b28c, little-endian 4-byte blocks).
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java computes `seed ^ length` on an int; lengths past 2^31 cannot reach here.
    let mut h: u32 = SEED ^ (data.len() as u32);
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = blocks.remainder();
    if tail.len() == 3 {
        h ^= (tail[2] as u32) << 16;
    }
    if tail.len() >= 2 {
        h ^= (tail[1] as u32) << 8;
    }
    if !tail.is_empty() {
        h ^= tail[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit (not `abs`, which overflows on MIN).
pub fn to_positive(value: i32) -> u32 {
    (value & 0x7fff_ffff) as u32
}

/// The partition Kafka's default partitioner picks for a key.
pub fn partition_for_key(key: &[u8], partition_count: u32) -> u32 {
    debug_assert!(partition_count > 0);
    to_positive(murmur2(key)) % partition_count.max(1)
}

/// How a producer places messages that name no partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionerKind {
    /// Keyed: murmur2. Keyless: sticky — all keyless messages of one send go to one
    /// partition (one batch), and the next send moves on to the next partition.
    Default,
    /// Every message to the next partition in turn, key or not (Kafka's RoundRobinPartitioner).
    RoundRobin,
    /// Every message to a uniformly random partition, key or not (the seed article's
    /// "random placement", which shows why keys matter).
    Random,
}

impl PartitionerKind {
    pub fn from_name(name: &str) -> Result<PartitionerKind> {
        match name {
            "default" | "murmur2" | "javaCompatible" => Ok(PartitionerKind::Default),
            "roundRobin" => Ok(PartitionerKind::RoundRobin),
            "random" => Ok(PartitionerKind::Random),
            other => Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "unknown partitioner {other}; use \"default\", \"roundRobin\" or \"random\"",
                    other = Quoted(other)
                ),
            )),
        }
    }
}

/// A small, fast, seedable generator (SplitMix64). Not for secrets: it spreads messages.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..bound (bound > 0), without modulo bias worth noticing for u32 bounds.
    pub fn below(&mut self, bound: u32) -> u32 {
        (((self.next_u64() >> 32) * bound as u64) >> 32) as u32
    }
}

/// A producer's placement state: the kind, its counter and its random source.
#[derive(Clone, Debug)]
pub struct Partitioner {
    kind: PartitionerKind,
    counter: u32,
    random: SplitMix64,
}

impl Partitioner {
    pub fn new(kind: PartitionerKind, seed: u64) -> Partitioner {
        let mut random = SplitMix64::new(seed);
        // Start the counter at a random place, as Kafka's clients do, so that many short-lived
        // producers do not all pile their first keyless batch onto partition 0.
        let counter = (random.next_u64() >> 33) as u32;
        Partitioner {
            kind,
            counter,
            random,
        }
    }

    pub fn kind(&self) -> PartitionerKind {
        self.kind
    }

    /// Called once per send: picks the partition that keyless messages of this send stick to.
    pub fn begin_send(&mut self, partition_count: u32) -> u32 {
        let sticky = self.counter % partition_count.max(1);
        if self.kind == PartitionerKind::Default {
            self.counter = self.counter.wrapping_add(1);
        }
        sticky
    }

    /// The partition of one message without an explicit partition.
    pub fn place(&mut self, key: Option<&[u8]>, partition_count: u32, sticky: u32) -> u32 {
        let count = partition_count.max(1);
        match (self.kind, key) {
            (PartitionerKind::Default, Some(key)) => partition_for_key(key, count),
            (PartitionerKind::Default, None) => sticky,
            (PartitionerKind::RoundRobin, _) => {
                let partition = self.counter % count;
                self.counter = self.counter.wrapping_add(1);
                partition
            }
            (PartitionerKind::Random, _) => self.random.below(count),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafkas_unit_test_vectors() {
        // From Kafka's UtilsTest.testMurmur2.
        let cases: [(&str, i32); 6] = [
            ("21", -973932308),
            ("foobar", -790332482),
            ("a-little-bit-long-string", -985981536),
            ("a-little-bit-longer-string", -1486304829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            ("abc", 479470107),
        ];
        for (key, expected) in cases {
            assert_eq!(murmur2(key.as_bytes()), expected, "murmur2({key:?})");
        }
    }

    #[test]
    fn keyed_placement_matches_kafka_with_three_partitions() {
        for key in ["foobar", "21", "abc"] {
            assert_eq!(partition_for_key(key.as_bytes(), 3), 0, "{key}");
        }
        assert_eq!(partition_for_key(b"abc-123", 3), 1);
        // An empty key is hashed like any other (it is not a null key).
        assert_eq!(
            partition_for_key(b"", 7),
            to_positive(murmur2(b"")) % 7,
            "empty key"
        );
    }

    #[test]
    fn to_positive_clears_only_the_sign_bit() {
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), 0x7fff_ffff);
        assert_eq!(to_positive(5), 5);
    }

    #[test]
    fn default_keyless_messages_stick_per_send_and_rotate() {
        let mut partitioner = Partitioner::new(PartitionerKind::Default, 7);
        let mut seen = Vec::new();
        for _ in 0..3 {
            let sticky = partitioner.begin_send(3);
            let placed: Vec<u32> = (0..5).map(|_| partitioner.place(None, 3, sticky)).collect();
            assert!(placed.iter().all(|&p| p == sticky));
            seen.push(sticky);
        }
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2], "three sends cover three partitions");
    }

    #[test]
    fn round_robin_ignores_keys_and_cycles() {
        let mut partitioner = Partitioner::new(PartitionerKind::RoundRobin, 1);
        let sticky = partitioner.begin_send(4);
        let placed: Vec<u32> = (0..8)
            .map(|_| partitioner.place(Some(b"same"), 4, sticky))
            .collect();
        for pair in placed.windows(2) {
            assert_eq!(pair[1], (pair[0] + 1) % 4);
        }
    }

    #[test]
    fn random_spreads_over_all_partitions() {
        let mut partitioner = Partitioner::new(PartitionerKind::Random, 42);
        let mut counts = [0u32; 4];
        for _ in 0..4000 {
            counts[partitioner.place(Some(b"k"), 4, 0) as usize] += 1;
        }
        for count in counts {
            assert!((800..1200).contains(&count), "{counts:?}");
        }
    }

    #[test]
    fn unknown_partitioner_name_is_refused() {
        let error = PartitionerKind::from_name("hash").unwrap_err();
        assert_eq!(error.code(), "INVALID_ARGUMENT");
    }
}
