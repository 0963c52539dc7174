// A bounded cache of verified record batches, least recently used out, so that a log's memory
// does not grow with its size: consumers of several groups reading one stretch of a partition
// read and check its batches once. Keyed by a partition's number in its log and the batch's
// base offset; sized in bytes, configurable at open.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

/// The default size of a log's cache.
pub const CACHE_BYTES_DEFAULT: u64 = 16 * 1024 * 1024;

type Key = (u32, i64);

pub struct BatchCache {
    bytes_max: u64,
    bytes: u64,
    tick: u64,
    entries: HashMap<Key, (Rc<Vec<u8>>, u64)>,
    /// Tick of last use -> key: the least recently used first.
    order: BTreeMap<u64, Key>,
}

impl BatchCache {
    pub fn new(bytes_max: u64) -> BatchCache {
        BatchCache {
            bytes_max,
            bytes: 0,
            tick: 0,
            entries: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    pub fn get(&mut self, partition: u32, base_offset: i64) -> Option<Rc<Vec<u8>>> {
        let key = (partition, base_offset);
        let (bytes, used) = self.entries.get_mut(&key)?;
        self.order.remove(used);
        self.tick += 1;
        *used = self.tick;
        self.order.insert(self.tick, key);
        Some(bytes.clone())
    }

    /// Keeps a verified batch; one larger than the whole cache is not kept.
    pub fn insert(&mut self, partition: u32, base_offset: i64, batch: Rc<Vec<u8>>) {
        let size = batch.len() as u64;
        if size > self.bytes_max {
            return;
        }
        self.remove(partition, base_offset);
        while self.bytes + size > self.bytes_max {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some((evicted, _)) = self.entries.remove(&oldest) {
                self.bytes -= evicted.len() as u64;
            }
        }
        self.tick += 1;
        self.bytes += size;
        self.order.insert(self.tick, (partition, base_offset));
        self.entries
            .insert((partition, base_offset), (batch, self.tick));
    }

    pub fn remove(&mut self, partition: u32, base_offset: i64) {
        if let Some((batch, used)) = self.entries.remove(&(partition, base_offset)) {
            self.order.remove(&used);
            self.bytes -= batch.len() as u64;
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
