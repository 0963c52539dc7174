// Consumer-group partition assignors (Range, RoundRobin, CooperativeSticky) as pure
// functions, following Kafka's Java clients. This module owns only the decision
// "which member gets which partition"; the group protocol around it (generations,
// join/sync, the two-phase revoke of cooperative rebalancing) lives elsewhere.
//
// Invariants kept by every assignor:
// - every partition of a topic that exists in `partition_counts` and that at least one
//   member subscribes to is assigned to exactly one member, and only to a member that
//   subscribes to its topic; nothing else is assigned;
// - every member has an entry in the result (maybe empty), each list sorted;
// - the result depends only on the set of members, never on the order of the slice:
//   members are sorted by id, and entries sharing an id are merged (union of topics
//   and of owned partitions) so that duplicates cannot make the outcome order-dependent.
// CooperativeSticky also keeps every valid owned partition that balance allows, and
// with equal subscriptions the per-member counts differ by at most one.

use std::cmp::Reverse;
use std::collections::VecDeque;
use std::ops::Bound::{Excluded, Included, Unbounded};

use crate::sorted_map::{sort_unstable, sort_unstable_by, SortedMap, SortedSet};

/// A topic-partition, ordered by topic then partition.
pub type TopicPartition = (String, u32);

/// Borrowed topic-partition used internally so that sorting and set operations do not
/// clone topic names; it orders exactly like `TopicPartition`.
type Tp<'a> = (&'a str, u32);

/// The partition assignment strategies a consumer group can pick.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Assignor {
    Range,
    RoundRobin,
    CooperativeSticky,
}

impl Assignor {
    /// "range" | "roundRobin" | "cooperativeSticky" (KafkaJS-style names); also accept
    /// Kafka's Java names "roundrobin", "cooperative-sticky" and "sticky" -> CooperativeSticky. None otherwise.
    pub fn from_name(name: &str) -> Option<Assignor> {
        match name {
            "range" => Some(Assignor::Range),
            "roundRobin" | "roundrobin" => Some(Assignor::RoundRobin),
            // Java's eager "sticky" has no separate implementation here: the cooperative
            // variant computes the same kind of target assignment.
            "cooperativeSticky" | "cooperative-sticky" | "sticky" => {
                Some(Assignor::CooperativeSticky)
            }
            _ => None,
        }
    }

    /// Canonical name: "range", "roundRobin", "cooperativeSticky".
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundRobin",
            Assignor::CooperativeSticky => "cooperativeSticky",
        }
    }

    /// Eager assignors revoke everything on a rebalance; cooperative ones revoke only what moves.
    pub fn is_cooperative(self) -> bool {
        matches!(self, Assignor::CooperativeSticky)
    }
}

/// One member as the assignor sees it.
#[derive(Clone, Copy, Debug)]
pub struct MemberSubscription<'a> {
    pub member_id: &'a str,
    /// Topics it subscribes to (may name topics that don't exist: those are ignored).
    pub topics: &'a [String],
    /// What it owns now (used by the sticky assignor; others ignore it).
    pub owned: &'a [TopicPartition],
}

/// Returns member_id -> sorted partitions, with an entry (maybe empty) for every member.
/// `partition_counts`: topic -> number of partitions (partitions are 0..count).
pub fn assign(
    assignor: Assignor,
    members: &[MemberSubscription<'_>],
    partition_counts: &SortedMap<String, u32>,
) -> SortedMap<String, Vec<TopicPartition>> {
    let members = normalize(members, partition_counts);
    let per_member = match assignor {
        Assignor::Range => assign_range(&members, partition_counts),
        Assignor::RoundRobin => assign_round_robin(&members, partition_counts),
        Assignor::CooperativeSticky => assign_sticky(&members, partition_counts),
    };
    members
        .iter()
        .zip(per_member)
        .map(|(member, tps)| {
            let tps = tps.into_iter().map(|(t, p)| (t.to_owned(), p)).collect();
            (member.id.to_owned(), tps)
        })
        .collect()
}

/// A member after normalisation: only existing topics, duplicates merged.
struct Member<'a> {
    id: &'a str,
    topics: SortedSet<&'a str>,
    owned: SortedSet<Tp<'a>>,
}

/// Sorts members by id, merges entries that share an id and drops subscriptions to
/// topics that don't exist, so the assignors below can index members by position and
/// trust every subscribed topic to have a partition count.
fn normalize<'a>(
    members: &[MemberSubscription<'a>],
    partition_counts: &SortedMap<String, u32>,
) -> Vec<Member<'a>> {
    let mut by_id: SortedMap<&'a str, Member<'a>> = SortedMap::new();
    for sub in members {
        let member = by_id.get_or_insert_with(sub.member_id, || Member {
            id: sub.member_id,
            topics: SortedSet::new(),
            owned: SortedSet::new(),
        });
        member.topics.extend(
            sub.topics
                .iter()
                .map(String::as_str)
                .filter(|t| partition_counts.contains_key(*t)),
        );
        member
            .owned
            .extend(sub.owned.iter().map(|(t, p)| (t.as_str(), *p)));
    }
    by_id.into_values().collect()
}

/// Topics (existing ones only, after `normalize`) that at least one member subscribes
/// to, with the indices of their subscribers in id order.
fn subscribers<'a>(members: &[Member<'a>]) -> SortedMap<&'a str, Vec<usize>> {
    let mut out: SortedMap<&'a str, Vec<usize>> = SortedMap::new();
    for (i, member) in members.iter().enumerate() {
        for &topic in &member.topics {
            out.get_or_insert_with(topic, Default::default).push(i);
        }
    }
    out
}

fn partition_count(partition_counts: &SortedMap<String, u32>, topic: &str) -> u32 {
    partition_counts.get(topic).copied().unwrap_or(0)
}

/// Kafka's RangeAssignor: per topic, consecutive runs of partitions to the subscribers
/// in id order, the first `n % m` of them getting one extra.
fn assign_range<'a>(
    members: &[Member<'a>],
    partition_counts: &SortedMap<String, u32>,
) -> Vec<Vec<Tp<'a>>> {
    let mut out: Vec<Vec<Tp<'a>>> = vec![Vec::new(); members.len()];
    for (topic, subs) in subscribers(members) {
        let n = partition_count(partition_counts, topic);
        let (base, mut extra) = match u32::try_from(subs.len()) {
            Ok(0) => continue,
            Ok(m) => (n / m, n % m),
            // More subscribers than any u32 partition count: one each to the first n.
            Err(_) => (0, n),
        };
        let mut next = 0u32;
        for i in subs {
            let len = base + u32::from(extra > 0);
            extra = extra.saturating_sub(1);
            // The runs add up to exactly n, so `end` never exceeds n.
            let end = next + len;
            if let Some(list) = out.get_mut(i) {
                list.extend((next..end).map(|p| (topic, p)));
            }
            next = end;
        }
    }
    // Topics were visited in order and partitions ascend within a topic, so each list
    // is already sorted.
    out
}

/// Kafka's RoundRobinAssignor: all subscribed partitions in (topic, partition) order,
/// each to the next member in circular id order that subscribes to its topic.
fn assign_round_robin<'a>(
    members: &[Member<'a>],
    partition_counts: &SortedMap<String, u32>,
) -> Vec<Vec<Tp<'a>>> {
    let m = members.len();
    let mut out: Vec<Vec<Tp<'a>>> = vec![Vec::new(); m];
    let mut cursor = 0usize;
    for topic in subscribers(members).into_keys() {
        for p in 0..partition_count(partition_counts, topic) {
            // Bounded probe over one full circle instead of Java's unbounded `while`;
            // it always finds someone because only subscribed topics are walked.
            let Some(i) = (cursor..m)
                .chain(0..cursor)
                .find(|&i| members[i].topics.contains(topic))
            else {
                continue;
            };
            out[i].push((topic, p));
            cursor = if i + 1 >= m { 0 } else { i + 1 };
        }
    }
    out
}

/// Kafka's (Cooperative)StickyAssignor, as a target assignment:
/// 1. keep valid owned partitions (existing, in range, still subscribed; on a conflict
///    the first claimant by member id wins);
/// 2. give every unowned partition to the least-loaded subscriber (ties by id),
///    partitions with the fewest possible owners first so they are not crowded out;
/// 3. while some member holds at least two more partitions than a member it can reach
///    through a chain of hand-overs (each member in the chain gives one partition to
///    the next, who subscribes to its topic), carry out the shortest such chain,
///    heaviest donor first, preferring partitions the giver did not already own.
///
/// Each chain leaves the members in its middle at the same count and lowers the sum
/// of squared loads by at least two, so step 3 terminates. When no chain is left the
/// assignment is an optimal semi-matching (Harvey et al., 2006): the loads are as even
/// as the subscriptions allow. With equal subscriptions every member can take every
/// partition, so chains are single moves from the heaviest to the lightest member,
/// the result has max - min <= 1, and only members above the final share give
/// anything up.
fn assign_sticky<'a>(
    members: &[Member<'a>],
    partition_counts: &SortedMap<String, u32>,
) -> Vec<Vec<Tp<'a>>> {
    let mut holdings = Holdings::new(members.len());
    let mut kept_by: SortedMap<Tp<'a>, usize> = SortedMap::new();

    // 1. Valid claims, members in id order so the first claimant keeps a contested one.
    for (i, member) in members.iter().enumerate() {
        for &tp in &member.owned {
            let valid =
                member.topics.contains(tp.0) && tp.1 < partition_count(partition_counts, tp.0);
            if !valid {
                continue;
            }
            if !kept_by.contains_key(&tp) {
                kept_by.insert(tp, i);
                holdings.held[i].insert(tp);
            }
        }
    }

    // 2. Unowned partitions to the least-loaded eligible member.
    let subs = subscribers(members);
    let mut fresh: Vec<(usize, Tp<'a>)> = Vec::new();
    for (&topic, eligible) in &subs {
        for p in 0..partition_count(partition_counts, topic) {
            if !kept_by.contains_key(&(topic, p)) {
                fresh.push((eligible.len(), (topic, p)));
            }
        }
    }
    sort_unstable(&mut fresh);
    for (_, tp) in fresh {
        let Some(eligible) = subs.get(tp.0) else {
            continue;
        };
        if let Some(&best) = eligible.iter().min_by_key(|&&i| (holdings.load(i), i)) {
            holdings.held[best].insert(tp);
            holdings.gained[best].insert(tp);
        }
    }

    // 3. Even out loads.
    while let Some(chain) = holdings.find_chain(&subs) {
        for (from, to, tp) in chain {
            holdings.hand_over(from, to, tp, &kept_by);
        }
    }
    // Sets iterate in order, so the lists come out sorted.
    holdings
        .held
        .into_iter()
        .map(|set| set.into_iter().collect())
        .collect()
}

/// Who holds what while `assign_sticky` runs, indexed like the sorted members.
/// `gained` is the part of `held` a member did not own before this rebalance, kept
/// apart because those partitions are handed on first, so that owned ones stick.
struct Holdings<'a> {
    held: Vec<SortedSet<Tp<'a>>>,
    gained: Vec<SortedSet<Tp<'a>>>,
}

impl<'a> Holdings<'a> {
    fn new(members: usize) -> Self {
        Holdings {
            held: vec![SortedSet::new(); members],
            gained: vec![SortedSet::new(); members],
        }
    }

    fn load(&self, member: usize) -> usize {
        self.held[member].len()
    }

    fn hand_over(
        &mut self,
        from: usize,
        to: usize,
        tp: Tp<'a>,
        kept_by: &SortedMap<Tp<'a>, usize>,
    ) {
        self.held[from].remove(&tp);
        self.gained[from].remove(&tp);
        self.held[to].insert(tp);
        // A partition travelling back to the member that owned it is owned again.
        if kept_by.get(&tp) != Some(&to) {
            self.gained[to].insert(tp);
        }
    }

    /// The next balancing chain, as (giver, taker, partition) steps, or None when the
    /// assignment is as balanced as the subscriptions allow.
    fn find_chain(
        &self,
        subs: &SortedMap<&'a str, Vec<usize>>,
    ) -> Option<Vec<(usize, usize, Tp<'a>)>> {
        let n = self.held.len();
        let lightest = self.held.iter().map(SortedSet::len).min()?;
        let mut donors: Vec<usize> = (0..n).collect();
        sort_unstable_by(&mut donors, |&a, &b| {
            (Reverse(self.load(a)), a) < (Reverse(self.load(b)), b)
        });

        for from in donors {
            let load = self.load(from);
            // Donors come heaviest first: once one cannot beat the lightest by two,
            // none can.
            if lightest.saturating_add(2) > load {
                return None;
            }
            // Breadth-first over "can hand a partition to", so the chain found is the
            // shortest one and the fewest partitions change owner.
            let mut seen = vec![false; n];
            let mut parent: Vec<Option<(usize, Tp<'a>)>> = vec![None; n];
            seen[from] = true;
            let mut queue = VecDeque::from([(from, 0usize)]);
            // (distance, load, member) of the best taker found so far.
            let mut target: Option<(usize, usize, usize)> = None;
            while let Some((u, d)) = queue.pop_front() {
                // Everyone at the target's distance was discovered before the first
                // member at that distance is expanded, so nothing closer or lighter is
                // left.
                if target.is_some_and(|(best, _, _)| d >= best) {
                    break;
                }
                for tp in self.offers(u) {
                    for &v in subs.get(tp.0).map_or(&[][..], Vec::as_slice) {
                        if seen[v] {
                            continue;
                        }
                        seen[v] = true;
                        parent[v] = Some((u, tp));
                        queue.push_back((v, d + 1));
                        let taker_load = self.load(v);
                        if taker_load.saturating_add(2) <= load {
                            let found = (d + 1, taker_load, v);
                            target = Some(target.map_or(found, |t| t.min(found)));
                        }
                    }
                }
            }
            let Some((_, _, mut to)) = target else {
                continue;
            };
            let mut chain = Vec::new();
            // A BFS tree path has fewer than n edges; the bound only guards the walk.
            for _ in 0..n {
                let Some((giver, tp)) = parent[to] else {
                    break;
                };
                chain.push((giver, to, tp));
                if giver == from {
                    return Some(chain);
                }
                to = giver;
            }
        }
        None
    }

    /// One partition per topic that `holder` could hand over, most preferred first:
    /// gained before owned, then the highest (an arbitrary but fixed choice). Walks
    /// topics by range jumps so the cost grows with topics held, not partitions.
    fn offers(&self, holder: usize) -> Vec<Tp<'a>> {
        let held = &self.held[holder];
        let gained = &self.gained[holder];
        let mut out: Vec<(bool, Reverse<Tp<'a>>)> = Vec::new();
        let mut next = held.iter().next().copied();
        while let Some((topic, _)) = next {
            let in_topic = (Included((topic, 0)), Included((topic, u32::MAX)));
            if let Some(&tp) = gained.range(in_topic).next_back() {
                out.push((false, Reverse(tp)));
            } else if let Some(&tp) = held.range(in_topic).next_back() {
                out.push((true, Reverse(tp)));
            }
            next = held
                .range((Excluded((topic, u32::MAX)), Unbounded))
                .next()
                .copied();
        }
        sort_unstable(&mut out);
        out.into_iter().map(|(_, Reverse(tp))| tp).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL: [Assignor; 3] = [
        Assignor::Range,
        Assignor::RoundRobin,
        Assignor::CooperativeSticky,
    ];

    /// Owned test fixture for one member, borrowed into a `MemberSubscription`.
    #[derive(Clone, Debug)]
    struct M {
        id: String,
        topics: Vec<String>,
        owned: Vec<TopicPartition>,
    }

    fn m(id: &str, topics: &[&str], owned: &[(&str, u32)]) -> M {
        M {
            id: id.to_owned(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            owned: owned.iter().map(|(t, p)| ((*t).to_owned(), *p)).collect(),
        }
    }

    fn subs(ms: &[M]) -> Vec<MemberSubscription<'_>> {
        ms.iter()
            .map(|x| MemberSubscription {
                member_id: &x.id,
                topics: &x.topics,
                owned: &x.owned,
            })
            .collect()
    }

    fn counts(cs: &[(&str, u32)]) -> SortedMap<String, u32> {
        cs.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
    }

    fn run(
        a: Assignor,
        ms: &[M],
        cs: &SortedMap<String, u32>,
    ) -> SortedMap<String, Vec<TopicPartition>> {
        assign(a, &subs(ms), cs)
    }

    /// Expected result written compactly: member -> ["x3", "t0:2", ...], i.e. topic and
    /// partition split at ':' or, without one, before the trailing digits.
    fn expect(rows: &[(&str, &[&str])]) -> SortedMap<String, Vec<TopicPartition>> {
        rows.iter()
            .map(|(id, tps)| {
                let tps = tps
                    .iter()
                    .map(|s| {
                        let (t, p) = s.rsplit_once(':').unwrap_or_else(|| {
                            s.split_at(s.trim_end_matches(|c: char| c.is_ascii_digit()).len())
                        });
                        (t.to_owned(), p.parse().expect("partition digits"))
                    })
                    .collect();
                ((*id).to_owned(), tps)
            })
            .collect()
    }

    /// How many partitions a member held in `from` but no longer holds in `to`.
    fn moves(
        from: &SortedMap<String, Vec<TopicPartition>>,
        to: &SortedMap<String, Vec<TopicPartition>>,
    ) -> usize {
        from.iter()
            .map(|(id, tps)| {
                let now = to.get(id).cloned().unwrap_or_default();
                tps.iter().filter(|tp| !now.contains(tp)).count()
            })
            .sum()
    }

    // ---------- names ----------

    #[test]
    fn names_round_trip_and_aliases() {
        for a in ALL {
            assert_eq!(Assignor::from_name(a.name()), Some(a));
        }
        assert_eq!(
            Assignor::from_name("roundrobin"),
            Some(Assignor::RoundRobin)
        );
        assert_eq!(
            Assignor::from_name("cooperative-sticky"),
            Some(Assignor::CooperativeSticky)
        );
        assert_eq!(
            Assignor::from_name("sticky"),
            Some(Assignor::CooperativeSticky)
        );
        assert_eq!(Assignor::from_name("Range"), None);
        assert_eq!(Assignor::from_name(""), None);
        assert!(Assignor::CooperativeSticky.is_cooperative());
        assert!(!Assignor::Range.is_cooperative());
        assert!(!Assignor::RoundRobin.is_cooperative());
    }

    // ---------- shared edge cases ----------

    #[test]
    fn zero_members_gives_empty_map() {
        let cs = counts(&[("t", 4)]);
        for a in ALL {
            assert!(run(a, &[], &cs).is_empty());
        }
    }

    #[test]
    fn zero_partitions_and_missing_topics_give_empty_entries() {
        let cs = counts(&[("t", 0)]);
        let ms = [m("a", &["t"], &[]), m("b", &["nope"], &[("nope", 0)])];
        for a in ALL {
            assert_eq!(run(a, &ms, &cs), expect(&[("a", &[]), ("b", &[])]));
        }
    }

    #[test]
    fn duplicate_member_ids_are_merged_order_independently() {
        let cs = counts(&[("x", 2), ("y", 2)]);
        let ms = [
            m("a", &["x"], &[]),
            m("b", &["x", "y"], &[]),
            m("a", &["y"], &[]),
        ];
        let mut rev = ms.to_vec();
        rev.reverse();
        for a in ALL {
            let r = run(a, &ms, &cs);
            assert_eq!(r, run(a, &rev, &cs));
            assert_eq!(r.len(), 2);
            assert_eq!(r.values().map(Vec::len).sum::<usize>(), 4);
        }
    }

    // ---------- range ----------

    #[test]
    fn range_three_partitions_two_members() {
        let cs = counts(&[("t", 3)]);
        let ms = [m("b", &["t"], &[]), m("a", &["t"], &[])];
        let r = run(Assignor::Range, &ms, &cs);
        assert_eq!(r, expect(&[("a", &["t0", "t1"]), ("b", &["t2"])]));
    }

    #[test]
    fn range_is_per_topic() {
        // Two one-partition topics, two members: a gets both (per-topic ranges).
        let cs = counts(&[("x", 1), ("y", 1)]);
        let ms = [m("a", &["x", "y"], &[]), m("b", &["x", "y"], &[])];
        let r = run(Assignor::Range, &ms, &cs);
        assert_eq!(r, expect(&[("a", &["x0", "y0"]), ("b", &[])]));
    }

    #[test]
    fn range_two_topics_kafka_doc_example() {
        let cs = counts(&[("t0", 3), ("t1", 3)]);
        let ms = [m("c0", &["t0", "t1"], &[]), m("c1", &["t0", "t1"], &[])];
        let r = run(Assignor::Range, &ms, &cs);
        assert_eq!(
            r,
            expect(&[
                ("c0", &["t0:0", "t0:1", "t1:0", "t1:1"]),
                ("c1", &["t0:2", "t1:2"])
            ])
        );
    }

    #[test]
    fn range_different_subscriptions() {
        let cs = counts(&[("x", 2), ("y", 3)]);
        let ms = [m("a", &["x", "y"], &[]), m("b", &["y"], &[])];
        let r = run(Assignor::Range, &ms, &cs);
        assert_eq!(
            r,
            expect(&[("a", &["x0", "x1", "y0", "y1"]), ("b", &["y2"])])
        );
    }

    #[test]
    fn range_more_members_than_partitions() {
        let cs = counts(&[("t", 2)]);
        let ms = [
            m("c", &["t"], &[]),
            m("a", &["t"], &[]),
            m("b", &["t"], &[]),
        ];
        let r = run(Assignor::Range, &ms, &cs);
        assert_eq!(r, expect(&[("a", &["t0"]), ("b", &["t1"]), ("c", &[])]));
    }

    #[test]
    fn range_ignores_owned() {
        let cs = counts(&[("t", 4)]);
        let ms = [m("a", &["t"], &[("t", 3)]), m("b", &["t"], &[("t", 0)])];
        let r = run(Assignor::Range, &ms, &cs);
        assert_eq!(r, expect(&[("a", &["t0", "t1"]), ("b", &["t2", "t3"])]));
    }

    // ---------- round robin ----------

    #[test]
    fn round_robin_two_topics_two_members_kafka_doc_example() {
        let cs = counts(&[("t0", 3), ("t1", 3)]);
        let ms = [m("c1", &["t0", "t1"], &[]), m("c0", &["t0", "t1"], &[])];
        let r = run(Assignor::RoundRobin, &ms, &cs);
        assert_eq!(
            r,
            expect(&[
                ("c0", &["t0:0", "t0:2", "t1:1"]),
                ("c1", &["t0:1", "t1:0", "t1:2"])
            ])
        );
    }

    #[test]
    fn round_robin_two_topics_three_members() {
        let cs = counts(&[("x", 2), ("y", 3)]);
        let ms = [
            m("a", &["x", "y"], &[]),
            m("b", &["x", "y"], &[]),
            m("c", &["x", "y"], &[]),
        ];
        let r = run(Assignor::RoundRobin, &ms, &cs);
        assert_eq!(
            r,
            expect(&[("a", &["x0", "y1"]), ("b", &["x1", "y2"]), ("c", &["y0"])])
        );
    }

    #[test]
    fn round_robin_different_subscriptions_kafka_doc_example() {
        let cs = counts(&[("t0", 1), ("t1", 2), ("t2", 3)]);
        let ms = [
            m("c0", &["t0"], &[]),
            m("c1", &["t0", "t1"], &[]),
            m("c2", &["t0", "t1", "t2"], &[]),
        ];
        let r = run(Assignor::RoundRobin, &ms, &cs);
        assert_eq!(
            r,
            expect(&[
                ("c0", &["t0:0"]),
                ("c1", &["t1:0"]),
                ("c2", &["t1:1", "t2:0", "t2:1", "t2:2"]),
            ])
        );
    }

    #[test]
    fn round_robin_more_members_than_partitions() {
        let cs = counts(&[("t", 2)]);
        let ms = [
            m("a", &["t"], &[]),
            m("b", &["t"], &[]),
            m("c", &["t"], &[]),
        ];
        let r = run(Assignor::RoundRobin, &ms, &cs);
        assert_eq!(r, expect(&[("a", &["t0"]), ("b", &["t1"]), ("c", &[])]));
    }

    #[test]
    fn round_robin_cursor_continues_across_topics() {
        // The cursor does not reset per topic: y0 goes to b because a just took x0.
        let cs = counts(&[("x", 1), ("y", 1)]);
        let ms = [m("a", &["x", "y"], &[]), m("b", &["x", "y"], &[])];
        let r = run(Assignor::RoundRobin, &ms, &cs);
        assert_eq!(r, expect(&[("a", &["x0"]), ("b", &["y0"])]));
    }

    // ---------- cooperative sticky ----------

    #[test]
    fn sticky_fresh_assignment_spreads_evenly() {
        let cs = counts(&[("t", 7)]);
        let ms = [
            m("a", &["t"], &[]),
            m("b", &["t"], &[]),
            m("c", &["t"], &[]),
        ];
        let r = run(Assignor::CooperativeSticky, &ms, &cs);
        assert_eq!(
            r,
            expect(&[
                ("a", &["t0", "t3", "t6"]),
                ("b", &["t1", "t4"]),
                ("c", &["t2", "t5"])
            ])
        );
    }

    #[test]
    fn sticky_join_moves_the_minimum() {
        // 6 partitions over 3 members (2 each); d joins: shares become 2,2,1,1, so
        // exactly one partition has to move and nobody else changes.
        let cs = counts(&[("t", 6)]);
        let before = expect(&[
            ("a", &["t0", "t1"]),
            ("b", &["t2", "t3"]),
            ("c", &["t4", "t5"]),
        ]);
        let ms = [
            m("a", &["t"], &[("t", 0), ("t", 1)]),
            m("b", &["t"], &[("t", 2), ("t", 3)]),
            m("c", &["t"], &[("t", 4), ("t", 5)]),
            m("d", &["t"], &[]),
        ];
        let r = run(Assignor::CooperativeSticky, &ms, &cs);
        assert_eq!(moves(&before, &r), 1);
        assert_eq!(
            r,
            expect(&[
                ("a", &["t0"]),
                ("b", &["t2", "t3"]),
                ("c", &["t4", "t5"]),
                ("d", &["t1"])
            ])
        );
    }

    #[test]
    fn sticky_join_larger_group_each_old_member_gives_one() {
        // 12 partitions, 4 each over a,b,c; d joins: each old member gives exactly one.
        let cs = counts(&[("t", 12)]);
        let own = |ps: [u32; 4]| ps.map(|p| ("t", p));
        let ms = [
            m("a", &["t"], &own([0, 1, 2, 3])),
            m("b", &["t"], &own([4, 5, 6, 7])),
            m("c", &["t"], &own([8, 9, 10, 11])),
            m("d", &["t"], &[]),
        ];
        let before = expect(&[
            ("a", &["t0", "t1", "t2", "t3"]),
            ("b", &["t4", "t5", "t6", "t7"]),
            ("c", &["t8", "t9", "t10", "t11"]),
        ]);
        let r = run(Assignor::CooperativeSticky, &ms, &cs);
        assert_eq!(moves(&before, &r), 3);
        for id in ["a", "b", "c", "d"] {
            assert_eq!(r[id].len(), 3, "{id}");
        }
        for (id, tps) in &before {
            let kept = tps.iter().filter(|tp| r[id].contains(tp)).count();
            assert_eq!(kept, 3, "{id} gives up exactly one");
        }
    }

    #[test]
    fn sticky_leave_hands_over_only_the_leavers_partitions() {
        let cs = counts(&[("t", 8)]);
        let ms = [
            m("a", &["t"], &[("t", 0), ("t", 4)]),
            m("b", &["t"], &[("t", 1), ("t", 5)]),
            m("c", &["t"], &[("t", 2), ("t", 6)]),
            // d (owning t3, t7) has left.
        ];
        let r = run(Assignor::CooperativeSticky, &ms, &cs);
        for x in &ms {
            for tp in &x.owned {
                assert!(r[&x.id].contains(tp), "{} kept {tp:?}", x.id);
            }
        }
        assert_eq!(
            r,
            expect(&[
                ("a", &["t0", "t3", "t4"]),
                ("b", &["t1", "t5", "t7"]),
                ("c", &["t2", "t6"])
            ])
        );
    }

    #[test]
    fn sticky_partition_increase_assigns_only_new_partitions() {
        let cs = counts(&[("t", 9)]);
        let ms = [
            m("a", &["t"], &[("t", 0), ("t", 1)]),
            m("b", &["t"], &[("t", 2), ("t", 3)]),
            m("c", &["t"], &[("t", 4), ("t", 5)]),
        ];
        let r = run(Assignor::CooperativeSticky, &ms, &cs);
        assert_eq!(
            r,
            expect(&[
                ("a", &["t0", "t1", "t6"]),
                ("b", &["t2", "t3", "t7"]),
                ("c", &["t4", "t5", "t8"])
            ])
        );
    }

    #[test]
    fn sticky_drops_stale_and_resolves_conflicts_by_member_id() {
        // t shrank to 3 partitions and "gone" was deleted; b also claims a's t0 and
        // owns u0 without subscribing to u any more.
        let cs = counts(&[("t", 3), ("u", 1)]);
        let ms = [
            m("b", &["t"], &[("t", 0), ("t", 1), ("u", 0)]),
            m("a", &["t", "u"], &[("t", 0), ("t", 7), ("gone", 0)]),
        ];
        let r = run(Assignor::CooperativeSticky, &ms, &cs);
        // a keeps t0 (first claimant), b keeps t1. Of the unowned, u0 has one possible
        // owner so it is placed first (a), then t2 goes to the lighter member, b.
        assert_eq!(r, expect(&[("a", &["t0", "u0"]), ("b", &["t1", "t2"])]));
    }

    #[test]
    fn sticky_different_subscriptions_fresh_assignment() {
        let cs = counts(&[("x", 2), ("y", 2)]);
        let ms = [m("a", &["x"], &[]), m("b", &["x", "y"], &[])];
        let r = run(Assignor::CooperativeSticky, &ms, &cs);
        assert_eq!(r, expect(&[("a", &["x0", "x1"]), ("b", &["y0", "y1"])]));
    }

    #[test]
    fn sticky_prefers_moving_partitions_the_giver_did_not_own() {
        // After step 2, d holds a1 (new to it) and a2 (owned) and must give one of
        // them to r, the only other subscriber of a: it gives a1 and keeps a2.
        let cs = counts(&[("a", 3), ("b", 2), ("c", 5)]);
        let c_all: Vec<(&str, u32)> = (0..5).map(|p| ("c", p)).collect();
        let ms = [
            m("d", &["a", "b"], &[("a", 2)]),
            m("e", &["b", "c"], &c_all),
            m("r", &["a"], &[("a", 0)]),
        ];
        let r = run(Assignor::CooperativeSticky, &ms, &cs);
        assert_eq!(
            r,
            expect(&[
                ("d", &["a2", "b0", "b1"]),
                ("e", &["c0", "c1", "c2", "c3", "c4"]),
                ("r", &["a0", "a1"]),
            ])
        );
    }

    #[test]
    fn sticky_balances_through_a_chain_when_no_direct_move_exists() {
        // c (2) and a (0) share no topic, and b (1) is within one of both, so no single
        // move helps; the chain c -y1-> b -x0-> a evens everyone out at 1.
        let cs = counts(&[("x", 1), ("y", 2)]);
        let ms = [
            m("a", &["x"], &[]),
            m("b", &["x", "y"], &[("x", 0)]),
            m("c", &["y"], &[("y", 0), ("y", 1)]),
        ];
        let r = run(Assignor::CooperativeSticky, &ms, &cs);
        assert_eq!(r, expect(&[("a", &["x0"]), ("b", &["y1"]), ("c", &["y0"])]));
    }

    #[test]
    fn sticky_places_partitions_with_fewest_subscribers_first() {
        // q1 (two possible owners) is placed before p0 (three), so it lands on b and p0
        // on c. In plain name order p0 would go to b, q1 to b too, and evening that out
        // would cost a its owned q2.
        let cs = counts(&[("p", 1), ("q", 3)]);
        let ms = [
            m("a", &["p", "q"], &[("q", 0), ("q", 2)]),
            m("b", &["p", "q"], &[]),
            m("c", &["p"], &[]),
        ];
        let r = run(Assignor::CooperativeSticky, &ms, &cs);
        assert_eq!(
            r,
            expect(&[("a", &["q0", "q2"]), ("b", &["q1"]), ("c", &["p0"])])
        );
    }

    #[test]
    fn sticky_unsubscribed_topic_is_freed() {
        let cs = counts(&[("x", 2), ("y", 2)]);
        let ms = [
            m("a", &["x"], &[("x", 0), ("x", 1), ("y", 0), ("y", 1)]),
            m("b", &["y"], &[]),
        ];
        let r = run(Assignor::CooperativeSticky, &ms, &cs);
        assert_eq!(r, expect(&[("a", &["x0", "x1"]), ("b", &["y0", "y1"])]));
    }

    #[test]
    fn sticky_more_members_than_partitions_keeps_owner() {
        let cs = counts(&[("t", 2)]);
        let ms = [
            m("a", &["t"], &[]),
            m("b", &["t"], &[("t", 1)]),
            m("c", &["t"], &[("t", 0)]),
        ];
        let r = run(Assignor::CooperativeSticky, &ms, &cs);
        assert_eq!(r, expect(&[("a", &[]), ("b", &["t1"]), ("c", &["t0"])]));
    }

    #[test]
    fn sticky_overloaded_owner_sheds_to_balance() {
        let cs = counts(&[("t", 4)]);
        let ms = [
            m("a", &["t"], &[("t", 0), ("t", 1), ("t", 2), ("t", 3)]),
            m("b", &["t"], &[]),
        ];
        let r = run(Assignor::CooperativeSticky, &ms, &cs);
        assert_eq!(r, expect(&[("a", &["t0", "t1"]), ("b", &["t2", "t3"])]));
    }

    // ---------- properties ----------

    /// Topic universe for generated cases; `t4` never exists, so subscriptions to it
    /// and owned partitions of it exercise the "ignore unknown topics" paths.
    const TOPICS: [&str; 5] = ["t0", "t1", "t2", "t3", "t4"];

    fn counts_strategy() -> impl Strategy<Value = SortedMap<String, u32>> {
        prop::collection::vec(0u32..=12, 1..=4).prop_map(|ns| {
            ns.into_iter()
                .enumerate()
                .map(|(i, n)| (TOPICS[i].to_owned(), n))
                .collect()
        })
    }

    fn topics_strategy() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(any::<bool>(), TOPICS.len()).prop_map(|bits| {
            bits.into_iter()
                .zip(TOPICS)
                .filter(|(b, _)| *b)
                .map(|(_, t)| t.to_owned())
                .collect()
        })
    }

    fn owned_strategy() -> impl Strategy<Value = Vec<TopicPartition>> {
        prop::collection::vec((0..TOPICS.len(), 0u32..14), 0..10).prop_map(|v| {
            v.into_iter()
                .map(|(t, p)| (TOPICS[t].to_owned(), p))
                .collect()
        })
    }

    fn members_strategy() -> impl Strategy<Value = Vec<M>> {
        prop::collection::vec((topics_strategy(), owned_strategy()), 1..=8).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (topics, owned))| M {
                    id: format!("m{i}"),
                    topics,
                    owned,
                })
                .collect()
        })
    }

    /// Same as `members_strategy` but every member has one shared subscription.
    fn equal_members_strategy() -> impl Strategy<Value = Vec<M>> {
        (
            topics_strategy(),
            prop::collection::vec(owned_strategy(), 1..=8),
        )
            .prop_map(|(topics, owned)| {
                owned
                    .into_iter()
                    .enumerate()
                    .map(|(i, owned)| M {
                        id: format!("m{i}"),
                        topics: topics.clone(),
                        owned,
                    })
                    .collect()
            })
    }

    fn subscribes(x: &M, topic: &str) -> bool {
        x.topics.iter().any(|t| t == topic)
    }

    /// The invariants every assignor keeps (see the module comment).
    fn check_invariants(
        ms: &[M],
        cs: &SortedMap<String, u32>,
        r: &SortedMap<String, Vec<TopicPartition>>,
    ) -> Result<(), TestCaseError> {
        let ids: SortedSet<&str> = ms.iter().map(|x| x.id.as_str()).collect();
        let keys: SortedSet<&str> = r.keys().map(String::as_str).collect();
        prop_assert_eq!(ids, keys);

        let mut seen: SortedSet<TopicPartition> = SortedSet::new();
        for x in ms {
            let list = &r[&x.id];
            prop_assert!(list.windows(2).all(|w| w[0] < w[1]), "sorted, no dups");
            for tp in list {
                prop_assert!(subscribes(x, &tp.0), "{} got unsubscribed {:?}", x.id, tp);
                prop_assert!(tp.1 < cs.get(&tp.0).copied().unwrap_or(0));
                prop_assert!(seen.insert(tp.clone()), "{:?} assigned twice", tp);
            }
        }
        let expected: SortedSet<TopicPartition> = cs
            .iter()
            .filter(|(t, _)| ms.iter().any(|x| subscribes(x, t)))
            .flat_map(|(t, &n)| (0..n).map(move |p| (t.clone(), p)))
            .collect();
        prop_assert_eq!(seen, expected);
        Ok(())
    }

    /// Per member, the owned partitions the sticky assignor may keep: existing, in
    /// range, subscribed, and not already claimed by a member with a smaller id.
    fn valid_claims(
        ms: &[M],
        cs: &SortedMap<String, u32>,
    ) -> SortedMap<String, SortedSet<TopicPartition>> {
        let mut sorted: Vec<&M> = ms.iter().collect();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        let mut taken = SortedSet::new();
        let mut out = SortedMap::new();
        for x in sorted {
            let mut mine = SortedSet::new();
            for tp in &x.owned {
                let ok = subscribes(x, &tp.0) && tp.1 < cs.get(&tp.0).copied().unwrap_or(0);
                if ok && taken.insert(tp.clone()) {
                    mine.insert(tp.clone());
                }
            }
            out.insert(x.id.clone(), mine);
        }
        out
    }

    fn with_owned(ms: &[M], r: &SortedMap<String, Vec<TopicPartition>>) -> Vec<M> {
        ms.iter()
            .map(|x| M {
                owned: r[&x.id].clone(),
                ..x.clone()
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn prop_invariants_all_assignors(
            ms in members_strategy(),
            cs in counts_strategy(),
            seed in any::<u64>(),
        ) {
            // A seeded rotation plus reversal gives a different member order to check
            // order independence without pulling in a shuffle dependency.
            let mut other = ms.clone();
            if !other.is_empty() {
                let k = usize::try_from(seed % 8).unwrap_or(0) % other.len();
                other.rotate_left(k);
            }
            other.reverse();
            for a in ALL {
                let r = run(a, &ms, &cs);
                check_invariants(&ms, &cs, &r)?;
                prop_assert_eq!(&r, &run(a, &other, &cs), "{:?} order-dependent", a);
            }
        }

        #[test]
        fn prop_sticky_general_is_locally_balanced_and_stable(
            ms in members_strategy(),
            cs in counts_strategy(),
        ) {
            let r = run(Assignor::CooperativeSticky, &ms, &cs);
            // No member holds two more than someone who could take one of its partitions.
            for x in &ms {
                for y in &ms {
                    if r[&y.id].len() + 2 <= r[&x.id].len() {
                        prop_assert!(
                            !r[&x.id].iter().any(|tp| subscribes(y, &tp.0)),
                            "{} could give to {}", x.id, y.id
                        );
                    }
                }
            }
            // Feeding the result back as `owned` changes nothing.
            let again = run(Assignor::CooperativeSticky, &with_owned(&ms, &r), &cs);
            prop_assert_eq!(again, r);
        }

        #[test]
        fn prop_sticky_is_as_balanced_as_possible(
            ms in prop::collection::vec((topics_strategy(), owned_strategy()), 1..=4)
                .prop_map(|v| v
                    .into_iter()
                    .enumerate()
                    .map(|(i, (topics, owned))| M { id: format!("m{i}"), topics, owned })
                    .collect::<Vec<_>>()),
            ns in prop::collection::vec(0u32..=3, 1..=3),
        ) {
            let cs: SortedMap<String, u32> =
                ns.iter().enumerate().map(|(i, n)| (TOPICS[i].to_owned(), *n)).collect();
            let r = run(Assignor::CooperativeSticky, &ms, &cs);
            check_invariants(&ms, &cs, &r)?;
            let got: usize = r.values().map(|v| v.len() * v.len()).sum();
            // Exhaustive search over every valid assignment for the least sum of squared
            // loads, the measure that an optimal semi-matching minimises.
            let eligible: Vec<Vec<usize>> = cs
                .iter()
                .flat_map(|(t, &n)| (0..n).map(move |_| t))
                .map(|t| (0..ms.len()).filter(|&i| subscribes(&ms[i], t)).collect::<Vec<_>>())
                .filter(|e| !e.is_empty())
                .collect();
            fn best(eligible: &[Vec<usize>], loads: &mut Vec<usize>) -> usize {
                match eligible.split_first() {
                    None => loads.iter().map(|l| l * l).sum(),
                    Some((first, rest)) => first
                        .iter()
                        .map(|&i| {
                            loads[i] += 1;
                            let b = best(rest, loads);
                            loads[i] -= 1;
                            b
                        })
                        .min()
                        .unwrap_or(usize::MAX),
                }
            }
            prop_assert_eq!(got, best(&eligible, &mut vec![0; ms.len()]));
        }

        #[test]
        fn prop_sticky_equal_subscriptions_balanced_and_sticky(
            ms in equal_members_strategy(),
            cs in counts_strategy(),
        ) {
            let r = run(Assignor::CooperativeSticky, &ms, &cs);
            check_invariants(&ms, &cs, &r)?;
            let loads: Vec<usize> = r.values().map(Vec::len).collect();
            let total: usize = loads.iter().sum();
            let max = loads.iter().copied().max().unwrap_or(0);
            let min = loads.iter().copied().min().unwrap_or(0);
            prop_assert!(max - min <= 1, "unbalanced {:?}", loads);

            let claims = valid_claims(&ms, &cs);
            let share = total / ms.len();
            let mut kept_total = 0;
            for x in &ms {
                let claimed = &claims[&x.id];
                let kept = claimed.iter().filter(|tp| r[&x.id].contains(tp)).count();
                prop_assert!(kept >= claimed.len().min(share), "{} kept {} of {}", x.id, kept, claimed.len());
                kept_total += kept;
            }
            // Globally optimal stickiness: at most `total % members` members can hold
            // share + 1, everyone else at most `share`.
            let extra_slots = total % ms.len();
            let over_share = claims.values().filter(|c| c.len() > share).count();
            let best: usize = claims.values().map(|c| c.len().min(share)).sum::<usize>()
                + extra_slots.min(over_share);
            prop_assert_eq!(kept_total, best);
        }
    }
}
