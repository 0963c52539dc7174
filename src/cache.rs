// A bounded cache of verified record batches, least recently used out, so that a log's memory
// does not grow with its size: consumers of several groups reading one stretch of a partition
// read and check its batches once. Keyed by a partition's number in its log and the batch's
// base offset; sized in bytes, configurable at open.

use std::collections::VecDeque;
use std::rc::Rc;

use crate::fast_hash::FastMap;

/// The default size of a log's cache.
pub const CACHE_BYTES_DEFAULT: u64 = 16 * 1024 * 1024;

type Key = (u32, i64);

pub struct BatchCache {
    bytes_max: u64,
    bytes: u64,
    tick: u64,
    entries: FastMap<Key, (Rc<Vec<u8>>, u64)>,
    /// (tick, key) of every use, oldest first. A use leaves the older pairs of its key in place:
    /// a pair whose tick is not its entry's is stale and skipped at eviction, and the queue is
    /// compacted when stale pairs outnumber live ones. O(1) per use, and no ordered map's code.
    order: VecDeque<(u64, Key)>,
}

impl BatchCache {
    pub fn new(bytes_max: u64) -> BatchCache {
        BatchCache {
            bytes_max,
            bytes: 0,
            tick: 0,
            entries: FastMap::default(),
            order: VecDeque::new(),
        }
    }

    pub fn get(&mut self, partition: u32, base_offset: i64) -> Option<Rc<Vec<u8>>> {
        let key = (partition, base_offset);
        let (bytes, used) = self.entries.get_mut(&key)?;
        self.tick += 1;
        *used = self.tick;
        let bytes = bytes.clone();
        self.used(key);
        Some(bytes)
    }

    fn used(&mut self, key: Key) {
        self.order.push_back((self.tick, key));
        if self.order.len() > 2 * self.entries.len() + 16 {
            let entries = &self.entries;
            self.order
                .retain(|(tick, key)| entries.get(key).is_some_and(|(_, used)| used == tick));
        }
    }

    /// Keeps a verified batch; one larger than the whole cache is not kept. Counted by its
    /// capacity: what it holds of memory (`batch_buffer` rounds a read batch's up).
    pub fn insert(&mut self, partition: u32, base_offset: i64, batch: Rc<Vec<u8>>) {
        let size = batch.capacity() as u64;
        if size > self.bytes_max {
            return;
        }
        self.remove(partition, base_offset);
        while self.bytes + size > self.bytes_max {
            let Some((tick, oldest)) = self.order.pop_front() else {
                break;
            };
            if self
                .entries
                .get(&oldest)
                .is_some_and(|(_, used)| *used == tick)
            {
                self.remove(oldest.0, oldest.1);
            }
        }
        self.tick += 1;
        self.bytes += size;
        self.entries
            .insert((partition, base_offset), (batch, self.tick));
        self.used((partition, base_offset));
    }

    pub fn remove(&mut self, partition: u32, base_offset: i64) {
        if let Some((batch, _)) = self.entries.remove(&(partition, base_offset)) {
            self.bytes -= batch.capacity() as u64;
        }
    }

    /// Forgets a partition's batches with base offsets in `from..to` (rewritten or deleted).
    pub fn remove_range(&mut self, partition: u32, from: i64, to: i64) {
        let keys: Vec<Key> = self
            .entries
            .keys()
            .filter(|(p, base)| *p == partition && (from..to).contains(base))
            .copied()
            .collect();
        for (p, base) in keys {
            self.remove(p, base);
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.bytes = 0;
    }

    #[cfg(test)]
    fn bytes(&self) -> u64 {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Against a model that keeps keys in order of use: the same keys are kept, the same
        // ones evicted, and the byte count is the sum of what is kept.
        #[test]
        fn keeps_what_a_plain_lru_keeps(ops in prop::collection::vec((0u8..4, 0u8..12, 1usize..120), 0..400)) {
            let mut cache = BatchCache::new(300);
            let mut model: Vec<(Key, usize)> = Vec::new(); // least recently used first
            for (op, base, size) in ops {
                let key = (u32::from(base % 2), i64::from(base));
                match op {
                    0 | 1 => {
                        cache.insert(key.0, key.1, Rc::new(vec![0; size]));
                        model.retain(|(k, _)| *k != key);
                        while model.iter().map(|(_, n)| n).sum::<usize>() + size > 300 {
                            model.remove(0);
                        }
                        model.push((key, size));
                        // Stale pairs stay bounded by the live entries (compacted at a use).
                        prop_assert!(cache.order.len() <= 2 * cache.entries.len() + 16);
                    }
                    2 => {
                        let hit = cache.get(key.0, key.1).map(|b| b.len());
                        let at = model.iter().position(|(k, _)| *k == key);
                        prop_assert_eq!(hit, at.map(|i| model[i].1));
                        if let Some(i) = at {
                            let entry = model.remove(i);
                            model.push(entry);
                        }
                    }
                    _ => {
                        cache.remove(key.0, key.1);
                        model.retain(|(k, _)| *k != key);
                    }
                }
                prop_assert_eq!(cache.bytes(), model.iter().map(|(_, n)| *n as u64).sum::<u64>());
            }
        }
    }

    #[test]
    fn evicts_the_least_recently_used_and_stays_within_its_size() {
        let mut cache = BatchCache::new(300);
        for base in 0..3 {
            cache.insert(0, base, Rc::new(vec![0; 100]));
        }
        assert!(cache.get(0, 0).is_some()); // 0 is now the most recently used
        cache.insert(0, 3, Rc::new(vec![0; 100]));
        assert!(cache.get(0, 1).is_none(), "1 was the least recently used");
        assert!(
            cache.get(0, 0).is_some() && cache.get(0, 2).is_some() && cache.get(0, 3).is_some()
        );
        assert_eq!(cache.bytes(), 300);
        cache.insert(1, 0, Rc::new(vec![0; 400]));
        assert!(cache.get(1, 0).is_none(), "larger than the cache: not kept");
        cache.remove_range(0, 2, 4);
        assert_eq!(cache.bytes(), 100);
    }
}
