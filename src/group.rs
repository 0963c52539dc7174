// Consumers and consumer groups: membership, rebalances, positions, fetches and commits.
//
// Every consumer is a member of a group (Kafka's model). Groups live in this process only —
// members are live objects — but their committed offsets are records of `__consumer_offsets`
// and outlive every reopen. Rebalances are synchronous: a join, a leave, a subscription change
// or a topic growing reassigns the group's partitions at once, so there is never a moment when
// two members own one partition.
//
// Invariants: within a group each partition has at most one owner; a member only ever
// delivers from partitions it owns now; a partition's records reach a member in offset order;
// committed offset = next offset to read.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::assignor::{assign, Assignor, MemberSubscription, TopicPartition};
use crate::consumer_offsets::{self, validate_group_id};
use crate::error::{Error, ErrorKind, Result};
use crate::log::{invalid_partition, Log, Message, PendingCommit};
use crate::record_batch::{RecordInput, RecordRef};
use crate::store::Step;
use crate::topic::{CleanupPolicy, CONSUMER_OFFSETS_TOPIC};

/// A member's handle, unique for the life of the log.
pub type MemberId = u64;

/// The most records one poll may return.
pub const FETCH_RECORDS_MAX: u32 = 1_000_000;
/// The most bytes of keys and values one poll may return (it may exceed them by the rest of one
/// batch): what the poll buffer in wasm memory may grow to, far below wasm32's 4 GiB.
pub const FETCH_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// Live members per log: each holds its subscription, positions and assignment in memory.
pub const MEMBERS_MAX: usize = 10_000;

/// What a poll delivered, and whether some partition waits for its store to load batches
/// (poll again once it has).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchOutcome {
    pub records: u32,
    pub pending: bool,
}

/// Where a member starts in a partition without a committed offset (Kafka's auto.offset.reset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetReset {
    /// The low watermark (`fromBeginning: true`).
    Earliest,
    /// The high watermark: only records produced from now on.
    Latest,
    /// No default: reading such a partition fails with OFFSET_OUT_OF_RANGE.
    None,
}

#[derive(Clone, Debug)]
pub struct ConsumerOptions {
    pub group_id: String,
    /// Commit each record's position as it is delivered (at-most-once) — KafkaJS's default.
    pub auto_commit: bool,
    pub assignor: Assignor,
    pub offset_reset: OffsetReset,
}

impl ConsumerOptions {
    pub fn new(group_id: &str) -> ConsumerOptions {
        ConsumerOptions {
            group_id: group_id.to_owned(),
            auto_commit: true,
            assignor: Assignor::CooperativeSticky,
            offset_reset: OffsetReset::Latest,
        }
    }
}

/// One partition's progress for a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionLag {
    pub partition: u32,
    pub low: i64,
    pub high: i64,
    pub committed: Option<i64>,
    /// Records not yet committed: high − committed (high − low when nothing is committed).
    pub lag: i64,
}

/// A member as `describe_group` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberDescription {
    pub member: MemberId,
    pub name: String,
    pub topics: Vec<String>,
    pub assignment: Vec<TopicPartition>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDescription {
    pub group_id: String,
    pub generation: i32,
    pub assignor: Assignor,
    pub members: Vec<MemberDescription>,
}

struct Member {
    group: String,
    /// Sorts in join order, which makes assignments stable and readable ("member-0000000003").
    name: String,
    topics: Vec<String>,
    auto_commit: bool,
    offset_reset: OffsetReset,
    assignment: Vec<TopicPartition>,
    positions: BTreeMap<TopicPartition, i64>,
    pending_seeks: BTreeMap<TopicPartition, i64>,
    paused: BTreeSet<TopicPartition>,
    /// Where the next poll starts in `assignment`, so that no partition starves the others.
    cursor: usize,
    /// Bumped whenever `assignment` changes, even if it changes back.
    assignment_version: u64,
}

struct Group {
    assignor: Assignor,
    generation: i32,
    members: Vec<MemberId>,
}

/// The group state of a log.
#[derive(Default)]
pub(crate) struct Groups {
    groups: BTreeMap<String, Group>,
    members: HashMap<MemberId, Member>,
    next_member: u64,
    /// (group, topic, partition) -> committed offset, mirrored from `__consumer_offsets`.
    committed: BTreeMap<(String, String, u32), i64>,
}

impl Groups {
    fn member(&self, member: MemberId) -> Result<&Member> {
        self.members
            .get(&member)
            .ok_or_else(|| unknown_member(member))
    }

    fn member_mut(&mut self, member: MemberId) -> Result<&mut Member> {
        self.members
            .get_mut(&member)
            .ok_or_else(|| unknown_member(member))
    }

    pub(crate) fn clear_commits(&mut self) {
        self.committed.clear();
    }

    pub(crate) fn committed_entries(&self) -> Vec<((String, String, u32), i64)> {
        self.committed
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    pub(crate) fn set_committed(&mut self, group: &str, topic: &str, partition: u32, offset: i64) {
        self.committed
            .insert((group.to_owned(), topic.to_owned(), partition), offset);
    }

    /// Rebuilds the committed map from the records of `__consumer_offsets`.
    pub(crate) fn apply_commit_record(&mut self, key: Option<&[u8]>, value: Option<&[u8]>) {
        let Some((group, topic, partition)) = key.and_then(consumer_offsets::decode_key) else {
            return;
        };
        match value.and_then(consumer_offsets::decode_value) {
            Some(offset) => {
                self.committed.insert((group, topic, partition), offset);
            }
            None => {
                self.committed.remove(&(group, topic, partition));
            }
        }
    }
}

fn unknown_member(member: MemberId) -> Error {
    Error::new(
        ErrorKind::UnknownMember,
        format!("consumer {member} is not a member of any group (it disconnected)"),
    )
}

fn not_assigned(topic: &str, partition: u32) -> Error {
    Error::new(
        ErrorKind::RebalanceInProgress,
        format!("partition {partition} of {topic:?} is not assigned to this consumer (a rebalance moved it, or the consumer does not subscribe to {topic:?}); only its owner commits it"),
    )
}

impl Log {
    /// Joins `options.group_id` subscribed to `topics`; the group rebalances at once.
    pub fn join_group(&mut self, options: ConsumerOptions, topics: &[&str]) -> Result<MemberId> {
        self.check_open()?;
        validate_group_id(&options.group_id)?;
        let topics = self.checked_subscription(topics)?;
        if self.groups.members.len() >= MEMBERS_MAX {
            return Err(Error::invalid_argument(format!(
                "a log has at most {MEMBERS_MAX} consumers in its groups; disconnect some first"
            )));
        }
        if let Some(group) = self.groups.groups.get(&options.group_id) {
            if group.assignor != options.assignor {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "group {:?} uses the {} assignor; this consumer asked for {}",
                        options.group_id,
                        group.assignor.name(),
                        options.assignor.name()
                    ),
                ));
            }
        }
        let groups = &mut self.groups;
        let id = groups.next_member;
        groups.next_member += 1;
        groups.members.insert(
            id,
            Member {
                group: options.group_id.clone(),
                name: format!("member-{id:010}"),
                topics,
                auto_commit: options.auto_commit,
                offset_reset: options.offset_reset,
                assignment: Vec::new(),
                positions: BTreeMap::new(),
                pending_seeks: BTreeMap::new(),
                paused: BTreeSet::new(),
                cursor: 0,
                assignment_version: 0,
            },
        );
        groups
            .groups
            .entry(options.group_id.clone())
            .or_insert_with(|| Group {
                assignor: options.assignor,
                generation: 0,
                members: Vec::new(),
            })
            .members
            .push(id);
        self.rebalance(&options.group_id);
        Ok(id)
    }

    fn checked_subscription(&self, topics: &[&str]) -> Result<Vec<String>> {
        if topics.is_empty() {
            return Err(Error::invalid_argument(
                "subscribe needs at least one topic",
            ));
        }
        let mut names = Vec::with_capacity(topics.len());
        for &topic in topics {
            let state = self.topic(topic)?;
            if state.internal {
                return Err(Error::invalid_argument(format!(
                    "{topic:?} is internal and cannot be subscribed to"
                )));
            }
            names.push(topic.to_owned());
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Replaces a member's subscription; the group rebalances.
    pub fn subscribe(&mut self, member: MemberId, topics: &[&str]) -> Result<()> {
        self.check_open()?;
        let topics = self.checked_subscription(topics)?;
        let state = self.groups.member_mut(member)?;
        state.topics = topics;
        let group = state.group.clone();
        self.rebalance(&group);
        Ok(())
    }

    /// Leaves the group: the member's partitions move to the others at once.
    pub fn leave_group(&mut self, member: MemberId) -> Result<()> {
        let state = self
            .groups
            .members
            .remove(&member)
            .ok_or_else(|| unknown_member(member))?;
        let group_id = state.group;
        let Some(group) = self.groups.groups.get_mut(&group_id) else {
            return Ok(());
        };
        group.members.retain(|&m| m != member);
        if group.members.is_empty() {
            // Committed offsets stay: a member that joins later resumes from them.
            self.groups.groups.remove(&group_id);
        } else {
            self.rebalance(&group_id);
        }
        Ok(())
    }

    /// Reassigns a group's partitions. Eager assignors revoke everything (positions restart
    /// from the committed offsets); cooperative-sticky keeps what stays and its positions.
    pub(crate) fn rebalance(&mut self, group_id: &str) {
        let Some(group) = self.groups.groups.get_mut(group_id) else {
            return;
        };
        group.generation += 1;
        let assignor = group.assignor;
        let member_ids = group.members.clone();
        let mut counts = BTreeMap::new();
        for id in &member_ids {
            if let Some(member) = self.groups.members.get(id) {
                for topic in &member.topics {
                    if let Some(state) = self.topics.get(topic) {
                        counts.insert(topic.clone(), state.partitions.len() as u32);
                    }
                }
            }
        }
        let subscriptions: Vec<MemberSubscription<'_>> = member_ids
            .iter()
            .filter_map(|id| self.groups.members.get(id))
            .map(|m| MemberSubscription {
                member_id: &m.name,
                topics: &m.topics,
                owned: &m.assignment,
            })
            .collect();
        let mut assignment = assign(assignor, &subscriptions, &counts);
        for id in &member_ids {
            let Some(member) = self.groups.members.get_mut(id) else {
                continue;
            };
            let new = assignment.remove(&member.name).unwrap_or_default();
            if assignor.is_cooperative() {
                member
                    .positions
                    .retain(|tp, _| new.binary_search(tp).is_ok());
            } else {
                member.positions.clear();
            }
            // An eager rebalance restarts positions even when the partitions stay the same.
            if member.assignment != new || !assignor.is_cooperative() {
                member.assignment_version += 1;
            }
            member.assignment = new;
            member.cursor = 0;
        }
    }

    /// Rebalances every group that subscribes to `topic` (after it grew).
    pub(crate) fn rebalance_subscribers(&mut self, topic: &str) {
        let groups: BTreeSet<String> = self
            .groups
            .members
            .values()
            .filter(|m| m.topics.iter().any(|t| t == topic))
            .map(|m| m.group.clone())
            .collect();
        for group in groups {
            self.rebalance(&group);
        }
    }

    /// The partitions a member owns now, sorted.
    pub fn assignment(&self, member: MemberId) -> Result<Vec<TopicPartition>> {
        Ok(self.groups.member(member)?.assignment.clone())
    }

    /// Whether a member owns a partition now (a delivery loop checks before each record).
    pub fn owns(&self, member: MemberId, topic: &str, partition: u32) -> bool {
        self.groups.members.get(&member).is_some_and(|m| {
            m.assignment
                .binary_search_by(|(t, p)| (t.as_str(), *p).cmp(&(topic, partition)))
                .is_ok()
        })
    }

    /// Changes whenever the member's assignment (or, for eager assignors, its positions) was
    /// reset by a rebalance.
    pub fn assignment_version(&self, member: MemberId) -> Result<u64> {
        Ok(self.groups.member(member)?.assignment_version)
    }

    pub fn generation(&self, member: MemberId) -> Result<i32> {
        let group = &self.groups.member(member)?.group;
        Ok(self.groups.groups.get(group).map_or(0, |g| g.generation))
    }

    /// The next offset a member will read from a partition it owns (None until first polled).
    pub fn position(&self, member: MemberId, topic: &str, partition: u32) -> Result<Option<i64>> {
        Ok(self
            .groups
            .member(member)?
            .positions
            .get(&(topic.to_owned(), partition))
            .copied())
    }

    /// The group's committed offset of a partition (the next offset to read), if any.
    pub fn committed(&self, group_id: &str, topic: &str, partition: u32) -> Option<i64> {
        self.groups
            .committed
            .get(&(group_id.to_owned(), topic.to_owned(), partition))
            .copied()
    }

    /// The group's latest commit of a partition, durable or still pending.
    fn latest_commit(&self, group_id: &str, topic: &str, partition: u32) -> Option<i64> {
        self.pending_commits
            .iter()
            .rev()
            .find(|c| c.group == group_id && c.topic == topic && c.partition == partition)
            .map(|c| c.offset)
            .or_else(|| self.committed(group_id, topic, partition))
    }

    /// Per partition of `topic`: watermarks, the group's commit, and its lag.
    pub fn lag(&self, group_id: &str, topic: &str) -> Result<Vec<PartitionLag>> {
        self.check_open()?;
        Ok(self
            .offsets(topic)?
            .into_iter()
            .map(|o| {
                let committed = self.committed(group_id, topic, o.partition);
                PartitionLag {
                    partition: o.partition,
                    low: o.low,
                    high: o.high,
                    committed,
                    lag: o.high - committed.unwrap_or(o.low).clamp(o.low, o.high),
                }
            })
            .collect())
    }

    pub fn describe_group(&self, group_id: &str) -> Option<GroupDescription> {
        let group = self.groups.groups.get(group_id)?;
        Some(GroupDescription {
            group_id: group_id.to_owned(),
            generation: group.generation,
            assignor: group.assignor,
            members: group
                .members
                .iter()
                .filter_map(|id| {
                    self.groups.members.get(id).map(|m| MemberDescription {
                        member: *id,
                        name: m.name.clone(),
                        topics: m.topics.clone(),
                        assignment: m.assignment.clone(),
                    })
                })
                .collect(),
        })
    }

    /// Group ids with live members, sorted.
    pub fn groups(&self) -> Vec<String> {
        self.groups.groups.keys().cloned().collect()
    }

    fn check_partition(&self, topic: &str, partition: u32) -> Result<(i64, i64)> {
        self.watermarks(topic, partition)
    }

    /// Sets where the member next reads a partition of a subscribed topic. Applies at once
    /// when the member owns it, else when it is assigned.
    pub fn seek(
        &mut self,
        member: MemberId,
        topic: &str,
        partition: u32,
        offset: i64,
    ) -> Result<()> {
        self.check_open()?;
        let (low, high) = self.check_partition(topic, partition)?;
        let state = self.groups.member_mut(member)?;
        if !state.topics.iter().any(|t| t == topic) {
            return Err(Error::invalid_argument(format!(
                "this consumer does not subscribe to {topic:?}; subscribe before seeking"
            )));
        }
        if offset < low || offset > high {
            return Err(Error::new(
                ErrorKind::OffsetOutOfRange,
                format!("offset {offset} is outside partition {partition} of {topic:?} (low {low}, high {high})"),
            ));
        }
        let key = (topic.to_owned(), partition);
        if state.assignment.binary_search(&key).is_ok() {
            state.positions.insert(key, offset);
        } else {
            state.pending_seeks.insert(key, offset);
        }
        Ok(())
    }

    /// Stops (`paused = true`) or restarts delivery from partitions of a topic (all of them
    /// when `partitions` is None).
    pub fn set_paused(
        &mut self,
        member: MemberId,
        topic: &str,
        partitions: Option<&[u32]>,
        paused: bool,
    ) -> Result<()> {
        self.check_open()?;
        let count = self.partition_count(topic)?;
        let selected: Vec<u32> = match partitions {
            None => (0..count).collect(),
            Some(list) => {
                if let Some(&bad) = list.iter().find(|&&p| p >= count) {
                    return Err(invalid_partition(topic, bad as i64, count));
                }
                list.to_vec()
            }
        };
        let state = self.groups.member_mut(member)?;
        for partition in selected {
            let key = (topic.to_owned(), partition);
            if paused {
                state.paused.insert(key);
            } else {
                state.paused.remove(&key);
            }
        }
        Ok(())
    }

    pub fn paused(&self, member: MemberId) -> Result<Vec<TopicPartition>> {
        Ok(self.groups.member(member)?.paused.iter().cloned().collect())
    }

    /// Where a member starts in a partition it was just given.
    fn initial_position(&mut self, member: MemberId, tp: &TopicPartition) -> Result<i64> {
        let (low, high) = self.watermarks(&tp.0, tp.1)?;
        let state = self.groups.member_mut(member)?;
        let seek = state.pending_seeks.remove(tp);
        let group = state.group.clone();
        let reset = state.offset_reset;
        // A commit still on its way to disk counts: the member that made it is past those
        // records (if its flush fails, the log reloads and the group rebalances anyway).
        let committed = self.latest_commit(&group, &tp.0, tp.1);
        match seek.or(committed) {
            Some(offset) if (low..=high).contains(&offset) => Ok(offset),
            _ => reset_position(reset, tp, low, high),
        }
    }

    /// Whether a poll by this member would deliver something now (the JS side waits on this
    /// instead of polling on a timer).
    pub fn has_records(&self, member: MemberId) -> bool {
        let Some(state) = self.groups.members.get(&member) else {
            return false;
        };
        state.assignment.iter().any(|tp| {
            if state.paused.contains(tp) {
                return false;
            }
            let Ok((low, high)) = self.watermarks(&tp.0, tp.1) else {
                return false;
            };
            match state.positions.get(tp) {
                Some(&position) => position < high || position < low,
                // Not started: there is something unless it would start at the end.
                None => high > low || state.pending_seeks.contains_key(tp),
            }
        })
    }

    /// Delivers up to `records_max` records (and, after the first, about `bytes_max` bytes)
    /// from the member's unpaused partitions, each partition in offset order, starting with
    /// a different partition each call so that none starves. With auto commit, the delivered
    /// positions are committed before this returns (at-most-once): returning them is the
    /// delivery.
    pub fn poll(
        &mut self,
        member: MemberId,
        records_max: u32,
        bytes_max: u64,
        visit: &mut dyn FnMut(&str, u32, &RecordRef<'_>),
    ) -> Result<FetchOutcome> {
        self.fetch_records(member, records_max, bytes_max, true, visit)
    }

    /// Like `poll`, but commits nothing, even with auto commit: for a delivery loop that hands
    /// records to the app one by one and commits each as it hands it over (`commit`), so that
    /// records it never hands over (a rebalance revoked them, the loop stopped) stay
    /// uncommitted for whoever reads the partition next.
    pub fn fetch(
        &mut self,
        member: MemberId,
        records_max: u32,
        bytes_max: u64,
        visit: &mut dyn FnMut(&str, u32, &RecordRef<'_>),
    ) -> Result<FetchOutcome> {
        self.fetch_records(member, records_max, bytes_max, false, visit)
    }

    fn fetch_records(
        &mut self,
        member: MemberId,
        records_max: u32,
        bytes_max: u64,
        commit_delivered: bool,
        visit: &mut dyn FnMut(&str, u32, &RecordRef<'_>),
    ) -> Result<FetchOutcome> {
        self.check_open()?;
        check_fetch_limits(records_max, bytes_max)?;
        let mut pending = false;
        let state = self.groups.member(member)?;
        let assignment = state.assignment.clone();
        let start = state.cursor;
        let auto_commit = state.auto_commit && commit_delivered;
        let mut delivered: u32 = 0;
        let mut bytes: u64 = 0;
        let mut to_commit = Vec::new();
        let count = assignment.len();
        for step in 0..count {
            let index = (start + step) % count;
            let tp = &assignment[index];
            if self.groups.member(member)?.paused.contains(tp) {
                continue;
            }
            let position = self.current_position(member, tp)?;
            let mut batch_bytes = 0u64;
            let outcome = match self.read(
                &tp.0,
                tp.1,
                position,
                records_max - delivered,
                bytes_max.saturating_sub(bytes).max(1),
                &mut |record| {
                    batch_bytes += record.value.map_or(0, <[u8]>::len) as u64
                        + record.key.map_or(0, <[u8]>::len) as u64;
                    visit(&tp.0, tp.1, record)
                },
            )? {
                Step::Ready(outcome) => outcome,
                Step::Pending => {
                    // The store loads this partition's next batches: the others go on.
                    pending = true;
                    continue;
                }
            };
            bytes += batch_bytes;
            delivered += outcome.records;
            let state = self.groups.member_mut(member)?;
            state.positions.insert(tp.clone(), outcome.next_offset);
            if outcome.records > 0 {
                state.cursor = index + 1;
                if auto_commit {
                    to_commit.push((tp.clone(), outcome.next_offset));
                }
            }
            if delivered >= records_max || bytes >= bytes_max {
                break;
            }
        }
        if !to_commit.is_empty() {
            let group = self.groups.member(member)?.group.clone();
            self.write_commits(&group, &to_commit)?;
        }
        Ok(FetchOutcome {
            records: delivered,
            pending,
        })
    }

    /// The member's position in an owned partition, initialised or reset as needed.
    fn current_position(&mut self, member: MemberId, tp: &TopicPartition) -> Result<i64> {
        let (low, high) = self.watermarks(&tp.0, tp.1)?;
        let state = self.groups.member(member)?;
        let reset = state.offset_reset;
        let position = match state.positions.get(tp) {
            None => self.initial_position(member, tp)?,
            // Retention moved the low watermark past us: follow the reset policy.
            Some(&position) if position < low || position > high => {
                reset_position(reset, tp, low, high)?
            }
            Some(&position) => position,
        };
        self.groups
            .member_mut(member)?
            .positions
            .insert(tp.clone(), position);
        Ok(position)
    }

    /// Commits offsets (the next offset to read) for partitions the member owns.
    pub fn commit(&mut self, member: MemberId, offsets: &[(&str, u32, i64)]) -> Result<()> {
        self.check_open()?;
        self.groups.member(member)?;
        let mut entries = Vec::with_capacity(offsets.len());
        for &(topic, partition, offset) in offsets {
            let (_, high) = self.check_partition(topic, partition)?;
            if !self.owns(member, topic, partition) {
                return Err(not_assigned(topic, partition));
            }
            if offset < 0 || offset > high {
                return Err(Error::new(
                    ErrorKind::OffsetOutOfRange,
                    format!("cannot commit offset {offset} of partition {partition} of {topic:?}: its high watermark is {high}"),
                ));
            }
            entries.push(((topic.to_owned(), partition), offset));
        }
        let group = self.groups.member(member)?.group.clone();
        self.write_commits(&group, &entries)
    }

    /// Appends commits to `__consumer_offsets` as one batch and mirrors them in memory.
    /// Commits that change nothing are skipped, so an idle auto-commit writes nothing.
    fn write_commits(&mut self, group: &str, entries: &[(TopicPartition, i64)]) -> Result<()> {
        let now = self.now_ms();
        let changed: Vec<&(TopicPartition, i64)> = entries
            .iter()
            .filter(|((topic, partition), offset)| {
                self.latest_commit(group, topic, *partition) != Some(*offset)
            })
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::new();
        let mut spans = Vec::with_capacity(changed.len());
        for ((topic, partition), offset) in &changed {
            let key_start = bytes.len();
            consumer_offsets::encode_key(&mut bytes, group, topic, *partition);
            let value_start = bytes.len();
            consumer_offsets::encode_value(&mut bytes, *offset, now);
            spans.push((key_start, value_start, bytes.len()));
        }
        let messages: Vec<Message<'_>> = spans
            .iter()
            .map(|&(k, v, end)| Message {
                record: RecordInput {
                    key: Some(&bytes[k..v]),
                    value: Some(&bytes[v..end]),
                    ..RecordInput::default()
                },
                partition: Some(0),
            })
            .collect();
        let partitions = vec![0u32; messages.len()];
        let placed = self.append_placed(CONSUMER_OFFSETS_TOPIC, &messages, &partitions, now)?;
        // Applied to the committed offsets once their records are durable (the next flush).
        for (((topic, partition), offset), placement) in changed.into_iter().zip(placed) {
            self.pending_commits.push(PendingCommit {
                record_offset: placement.offset,
                group: group.to_owned(),
                topic: topic.clone(),
                partition: *partition,
                offset: *offset,
            });
        }
        Ok(())
    }

    /// Runs retention and compaction where they are due: deletes old segments of `delete`
    /// topics with a retention limit, compacts `compact` topics (and `__consumer_offsets`)
    /// that sealed segments since their last compaction. Returns segments deleted or
    /// rewritten; `Pending` when compaction needs the store to load batches first.
    pub fn maintain(&mut self) -> Result<Step<u32>> {
        self.check_open()?;
        let now = self.now_ms();
        let mut changed = 0;
        let mut pending = false;
        // One partition's failure (damage found while compacting it) does not keep the others
        // from their retention and compaction: the first error is returned after all of them.
        let mut failure = None;
        let Log {
            store,
            cache,
            topics,
            ..
        } = self;
        for topic in topics.values_mut() {
            let config = &topic.config;
            for partition in &mut topic.partitions {
                let outcome = match config.cleanup_policy {
                    CleanupPolicy::Delete => partition.apply_retention(
                        &mut **store,
                        cache.as_mut(),
                        now,
                        config.retention_ms,
                        config.retention_bytes,
                    ),
                    CleanupPolicy::Compact if partition.needs_compaction() => partition
                        .compact(
                            &mut **store,
                            cache.as_mut(),
                            now,
                            config.delete_retention_ms,
                        )
                        .map(|step| match step {
                            Step::Ready(report) => report.segments_rewritten,
                            Step::Pending => {
                                pending = true;
                                0
                            }
                        }),
                    CleanupPolicy::Compact => Ok(0),
                };
                match outcome {
                    Ok(count) => changed += count,
                    Err(error) => {
                        failure.get_or_insert(error);
                    }
                }
            }
        }
        if let Some(error) = failure {
            return Err(error);
        }
        Ok(if pending {
            Step::Pending
        } else {
            Step::Ready(changed)
        })
    }
}

/// Checks a poll's limits before anything is read or reserved.
pub fn check_fetch_limits(records_max: u32, bytes_max: u64) -> Result<()> {
    if records_max == 0 || records_max > FETCH_RECORDS_MAX {
        return Err(Error::invalid_argument(format!(
            "maxRecords {records_max} is out of range; use 1 to {FETCH_RECORDS_MAX}"
        )));
    }
    if bytes_max == 0 || bytes_max > FETCH_BYTES_MAX {
        return Err(Error::invalid_argument(format!(
            "maxBytes {bytes_max} is out of range; use 1 to {FETCH_BYTES_MAX} (64 MiB)"
        )));
    }
    Ok(())
}

fn reset_position(reset: OffsetReset, tp: &TopicPartition, low: i64, high: i64) -> Result<i64> {
    match reset {
        OffsetReset::Earliest => Ok(low),
        OffsetReset::Latest => Ok(high),
        OffsetReset::None => Err(Error::new(
            ErrorKind::OffsetOutOfRange,
            format!(
                "no valid position in partition {} of {:?} (low {low}, high {high}) and offset reset is none; seek first",
                tp.1, tp.0
            ),
        )),
    }
}
