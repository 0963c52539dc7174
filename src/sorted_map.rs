// Ordered maps and sets kept as one sorted Vec. std's BTreeMap costs several KiB of wasm per
// key and value type (node splits, merges, cursors), and brook has dozens of such types; this
// costs a binary search and a Vec's insert or remove. It suits brook's collections: small ones
// (topics, groups, members, assignments), and large ones that grow at their end (segments and
// batches by base offset, where `insert` past the last key is a push). A map that takes many
// inserts in its middle while large keeps std's BTreeMap (the read-back links, the cache order).

use std::borrow::Borrow;
use std::ops::{Bound, RangeBounds};

/// Sorts `items` by `is_less` (unstable: equal items may change places) with a heapsort:
/// O(n log n) comparisons, no allocation, and a few hundred bytes of wasm per element type,
/// where the core's sort brings about 5 KiB per type it sorts. brook sorts short lists off the
/// hot paths (segment bases at open, assignments at a rebalance, file names).
pub fn sort_unstable_by<T>(items: &mut [T], mut is_less: impl FnMut(&T, &T) -> bool) {
    let len = items.len();
    // A max-heap, then the largest moved behind it, one at a time.
    for node in (0..len / 2).rev() {
        sift_down(items, node, len, &mut is_less);
    }
    for end in (1..len).rev() {
        items.swap(0, end);
        sift_down(items, 0, end, &mut is_less);
    }
}

/// `sort_unstable_by` in the items' own order.
pub fn sort_unstable<T: Ord>(items: &mut [T]) {
    sort_unstable_by(items, |a, b| a < b);
}

fn sift_down<T>(
    items: &mut [T],
    mut node: usize,
    end: usize,
    is_less: &mut impl FnMut(&T, &T) -> bool,
) {
    loop {
        let mut child = 2 * node + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && is_less(&items[child], &items[child + 1]) {
            child += 1;
        }
        if !is_less(&items[node], &items[child]) {
            return;
        }
        items.swap(node, child);
        node = child;
    }
}

/// The indices `start..end` of the sorted `items` whose keys lie in `range` (empty, not a
/// panic, when the range is inverted).
fn bounds<E, Q, R>(items: &[E], key: impl Fn(&E) -> &Q, range: R) -> (usize, usize)
where
    Q: Ord + ?Sized,
    R: RangeBounds<Q>,
{
    let position = |bound: Bound<&Q>, end: bool| match bound {
        Bound::Unbounded if end => items.len(),
        Bound::Unbounded => 0,
        Bound::Included(q) if end => items.partition_point(|e| key(e) <= q),
        Bound::Included(q) => items.partition_point(|e| key(e) < q),
        Bound::Excluded(q) if end => items.partition_point(|e| key(e) < q),
        Bound::Excluded(q) => items.partition_point(|e| key(e) <= q),
    };
    let start = position(range.start_bound(), false);
    (start, position(range.end_bound(), true).max(start))
}

/// The entries of a map (or a range of one) in order of their keys.
pub type Iter<'a, K, V> =
    std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

fn pair<K, V>((k, v): &(K, V)) -> (&K, &V) {
    (k, v)
}

#[derive(Clone, PartialEq, Eq)]
pub struct SortedMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap {
            entries: Vec::new(),
        }
    }
}

impl<K: std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for SortedMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear()
    }

    fn find<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        // The common case of a map that grows at its end: a key past the last is not searched.
        match self.entries.last() {
            None => Err(0),
            Some((last, _)) if last.borrow() < key => Err(self.entries.len()),
            _ => self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key)),
        }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| &mut self.entries[i].1)
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`; returns the value it replaces.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// The value of `key`, inserted from `make` first if there is none.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key, make()));
                i
            }
        };
        &mut self.entries[i].1
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| self.entries.remove(i).1)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v))
    }

    pub fn iter(&self) -> Iter<'_, K, V> {
        self.entries.iter().map(pair)
    }

    pub fn iter_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = (&K, &mut V)> + ExactSizeIterator {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    pub fn into_keys(self) -> impl DoubleEndedIterator<Item = K> + ExactSizeIterator {
        self.entries.into_iter().map(|(k, _)| k)
    }

    pub fn into_values(self) -> impl DoubleEndedIterator<Item = V> + ExactSizeIterator {
        self.entries.into_iter().map(|(_, v)| v)
    }

    /// The entries whose keys lie in `range`, in order. Unlike BTreeMap, an inverted range is
    /// empty rather than a panic.
    pub fn range<Q, R>(&self, range: R) -> Iter<'_, K, V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
        R: RangeBounds<Q>,
    {
        let (start, end) = bounds(&self.entries, |(k, _)| k.borrow(), range);
        self.entries[start..end].iter().map(pair)
    }

    pub fn range_mut<Q, R>(
        &mut self,
        range: R,
    ) -> impl DoubleEndedIterator<Item = (&K, &mut V)> + ExactSizeIterator
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
        R: RangeBounds<Q>,
    {
        let (start, end) = bounds(&self.entries, |(k, _)| k.borrow(), range);
        self.entries[start..end].iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn first_key_value(&self) -> Option<(&K, &V)> {
        self.entries.first().map(|(k, v)| (k, v))
    }

    pub fn last_key_value(&self) -> Option<(&K, &V)> {
        self.entries.last().map(|(k, v)| (k, v))
    }

    pub fn pop_first(&mut self) -> Option<(K, V)> {
        if self.entries.is_empty() {
            None
        } else {
            Some(self.entries.remove(0))
        }
    }

    pub fn pop_last(&mut self) -> Option<(K, V)> {
        self.entries.pop()
    }

    /// Gives back the slack of a map that is done growing.
    pub fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit()
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for SortedMap<K, V> {
    /// As BTreeMap's: of equal keys, the last one given wins. An insert per item: linear for
    /// items in order, quadratic otherwise (sort large inputs first), and no sort's code per type.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(items: I) -> Self {
        let mut map = SortedMap::new();
        map.extend(items);
        map
    }
}

impl<K: Ord, V> Extend<(K, V)> for SortedMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, items: I) {
        for (k, v) in items {
            self.insert(k, v);
        }
    }
}

impl<K, V> IntoIterator for SortedMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a, K, V> IntoIterator for &'a SortedMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(pair)
    }
}

// Indexing panics on a missing key, so only tests have it: brook's own code asks with `get`.
#[cfg(test)]
impl<K: Ord + Borrow<Q>, Q: Ord + ?Sized, V> std::ops::Index<&Q> for SortedMap<K, V> {
    type Output = V;
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry for the key")
    }
}

/// An ordered set kept as one sorted Vec; see `SortedMap`.
#[derive(Clone, PartialEq, Eq)]
pub struct SortedSet<T> {
    items: Vec<T>,
}

impl<T> Default for SortedSet<T> {
    fn default() -> Self {
        SortedSet { items: Vec::new() }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for SortedSet<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.items.iter()).finish()
    }
}

impl<T: Ord> SortedSet<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn clear(&mut self) {
        self.items.clear()
    }

    fn find<Q>(&self, item: &Q) -> Result<usize, usize>
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        match self.items.last() {
            None => Err(0),
            Some(last) if last.borrow() < item => Err(self.items.len()),
            _ => self.items.binary_search_by(|t| t.borrow().cmp(item)),
        }
    }

    pub fn contains<Q>(&self, item: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(item).is_ok()
    }

    /// Adds `item`; false if it was there already.
    pub fn insert(&mut self, item: T) -> bool {
        match self.find(&item) {
            Ok(_) => false,
            Err(i) => {
                self.items.insert(i, item);
                true
            }
        }
    }

    pub fn remove<Q>(&mut self, item: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        match self.find(item) {
            Ok(i) => {
                self.items.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.items.retain(keep)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    /// The items in `range`, in order; an inverted range is empty.
    pub fn range<Q, R>(&self, range: R) -> std::slice::Iter<'_, T>
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
        R: RangeBounds<Q>,
    {
        let (start, end) = bounds(&self.items, |t| t.borrow(), range);
        self.items[start..end].iter()
    }

    pub fn first(&self) -> Option<&T> {
        self.items.first()
    }

    pub fn last(&self) -> Option<&T> {
        self.items.last()
    }

    pub fn pop_first(&mut self) -> Option<T> {
        if self.items.is_empty() {
            None
        } else {
            Some(self.items.remove(0))
        }
    }
}

impl<T: Ord> FromIterator<T> for SortedSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut set = SortedSet::new();
        set.extend(items);
        set
    }
}

impl<T: Ord> Extend<T> for SortedSet<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        for item in items {
            self.insert(item);
        }
    }
}

impl<T> IntoIterator for SortedSet<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a SortedSet<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u16),
        Remove(u8),
        PopFirst,
        PopLast,
        Retain(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::Insert(k, v)),
            2 => any::<u8>().prop_map(Op::Remove),
            1 => Just(Op::PopFirst),
            1 => Just(Op::PopLast),
            1 => any::<u8>().prop_map(Op::Retain),
        ]
    }

    proptest! {
        // The heapsort agrees with std's sort, whatever the input: duplicates, runs, reversed.
        #[test]
        fn the_heapsort_sorts_as_std_does(mut items in prop::collection::vec(any::<u8>(), 0..300), pairs in prop::collection::vec((0u8..4, any::<u16>()), 0..100)) {
            let mut expected = items.clone();
            expected.sort();
            sort_unstable(&mut items);
            prop_assert_eq!(&items, &expected);
            sort_unstable(&mut items);
            prop_assert_eq!(&items, &expected, "a sorted input stays sorted");
            items.reverse();
            sort_unstable(&mut items);
            prop_assert_eq!(items, expected);
            // By a key only: keys in order, and the same multiset of items.
            let mut by_key = pairs.clone();
            sort_unstable_by(&mut by_key, |a, b| a.0 < b.0);
            prop_assert!(by_key.windows(2).all(|w| w[0].0 <= w[1].0));
            let (mut got, mut want) = (by_key, pairs);
            got.sort();
            want.sort();
            prop_assert_eq!(got, want);
        }

        // Every operation answers as std's BTreeMap does, and the two hold the same entries.
        #[test]
        fn a_sorted_map_behaves_as_a_btree_map(ops in prop::collection::vec(op(), 0..200), a: u8, b: u8) {
            let mut ours = SortedMap::new();
            let mut std = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(ours.insert(k, v), std.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(ours.remove(&k), std.remove(&k)),
                    Op::PopFirst => prop_assert_eq!(ours.pop_first(), std.pop_first()),
                    Op::PopLast => prop_assert_eq!(ours.pop_last(), std.pop_last()),
                    Op::Retain(m) => {
                        ours.retain(|k, _| k % (m | 1) != 0);
                        std.retain(|k, _| k % (m | 1) != 0);
                    }
                }
                prop_assert_eq!(ours.iter().collect::<Vec<_>>(), std.iter().collect::<Vec<_>>());
            }
            for k in 0..=255u8 {
                prop_assert_eq!(ours.get(&k), std.get(&k));
            }
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert_eq!(ours.range(lo..hi).collect::<Vec<_>>(), std.range(lo..hi).collect::<Vec<_>>());
            prop_assert_eq!(ours.range(lo..=hi).collect::<Vec<_>>(), std.range(lo..=hi).collect::<Vec<_>>());
            prop_assert_eq!(ours.range(..hi).collect::<Vec<_>>(), std.range(..hi).collect::<Vec<_>>());
            prop_assert_eq!(ours.range(lo..).collect::<Vec<_>>(), std.range(lo..).collect::<Vec<_>>());
            prop_assert_eq!(
                ours.range((Bound::Excluded(lo), Bound::Excluded(hi))).count(),
                std.range((Bound::Excluded(lo), Bound::Included(hi))).filter(|(k, _)| **k != hi).count()
            );
            prop_assert_eq!(ours.first_key_value(), std.first_key_value());
            prop_assert_eq!(ours.last_key_value(), std.last_key_value());
        }

        #[test]
        fn a_sorted_set_behaves_as_a_btree_set(items in prop::collection::vec(any::<u8>(), 0..100), removed in prop::collection::vec(any::<u8>(), 0..50)) {
            let mut ours: SortedSet<u8> = items.iter().copied().collect();
            let mut std: BTreeSet<u8> = items.iter().copied().collect();
            prop_assert_eq!(ours.iter().collect::<Vec<_>>(), std.iter().collect::<Vec<_>>());
            for r in removed {
                prop_assert_eq!(ours.remove(&r), std.remove(&r));
                prop_assert_eq!(ours.insert(r / 2), std.insert(r / 2));
            }
            prop_assert_eq!(ours.iter().collect::<Vec<_>>(), std.iter().collect::<Vec<_>>());
            prop_assert_eq!(ours.len(), std.len());
        }
    }

    #[test]
    fn equal_keys_collected_keep_the_last_value_as_btree_map_does() {
        let ours: SortedMap<u8, u8> = [(1, 1), (0, 0), (1, 2)].into_iter().collect();
        let std: BTreeMap<u8, u8> = [(1, 1), (0, 0), (1, 2)].into_iter().collect();
        assert_eq!(
            ours.into_iter().collect::<Vec<_>>(),
            std.into_iter().collect::<Vec<_>>()
        );
    }
}
