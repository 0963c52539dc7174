// Consumers and consumer groups: membership, rebalances, positions, deliveries and commits.
// `Groups` is owned by the log and reaches its partitions through `Partitions`.
//
// Every consumer is a member of a group (Kafka's model). Groups live in this process only —
// members are live objects — but their committed offsets are records of `__consumer_offsets`
// and outlive every reopen. Rebalances are synchronous: a join, a leave, a subscription change
// or a topic growing reassigns the group's partitions at once, so there is never a moment when
// two members own one partition.
//
// Delivery is leased: a member's fetch hands out chunks (a run of one partition's records)
// under a lease; the delivering side reports how far it handed each chunk over — in a table
// in memory it writes without a call, read when it matters — and releases the lease when it
// is done. The core then rewinds what was not handed over, unless a seek or a rebalance
// decided the partition's position meanwhile, and applies auto commit: once per chunk as its
// delivery starts (at-most-once: a crash while processing skips the rest of that chunk), or,
// asked for, what the handlers finished (at-least-once, KafkaJS's interval and threshold).
// Seeks, pauses and rebalances bump the member's epoch, also in a table, so that a delivery
// loop notices them without a call.
//
// Invariants: within a group each partition has at most one owner; a member only ever
// delivers from partitions it owns now; a partition's records reach a member in offset order;
// committed offset = next offset to read; under auto commit no record is handed over twice to
// a group, and a revoked chunk's undelivered records go to the next owner.

use std::collections::HashMap;

use crate::assignor::{assign, Assignor, MemberSubscription, TopicPartition};
use crate::consumer_offsets::{self, validate_group_id, Failure, KeyKind};
use crate::error::{Error, ErrorKind, Quoted, Result};
use crate::partition::ReadOutcome;
use crate::record_batch::RecordRun;
use crate::sorted_map::{sort_unstable, SortedMap, SortedSet};
use crate::store::Step;

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
    /// Commit delivered positions by themselves (`commit_processed` says which).
    pub auto_commit: bool,
    /// With auto commit: false (the default) commits each chunk as its delivery starts
    /// (at-most-once); true commits what was handed over when the delivering side asks
    /// (`commit_handed`: after handlers finished, every so many records or milliseconds, as
    /// KafkaJS's autoCommitThreshold / autoCommitInterval; at-least-once).
    pub commit_processed: bool,
    pub assignor: Assignor,
    pub offset_reset: OffsetReset,
}

impl ConsumerOptions {
    pub fn new(group_id: &str) -> ConsumerOptions {
        ConsumerOptions {
            group_id: group_id.to_owned(),
            auto_commit: true,
            commit_processed: false,
            assignor: Assignor::CooperativeSticky,
            offset_reset: OffsetReset::Latest,
        }
    }
}

/// What the delivering side does with a chunk of its lease (`Groups::start_chunk`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkStart {
    /// Not any more: revoked, seeked, paused, or the lease is gone.
    Skip,
    Deliver,
    /// Deliver once the next flush made its auto commit durable.
    DeliverWhenDurable,
}

/// Where a fetched run of records comes from, with what a consumer's batch reports of it.
#[derive(Clone, Copy, Debug)]
pub struct FetchedFrom<'a> {
    pub topic: &'a str,
    pub partition: u32,
    /// The partition's durable end when it was read (eachBatch's `highWatermark`).
    pub high: i64,
    /// The delivery failures of the partition's record that failed last, for the group.
    pub failure: Option<Failure>,
}

/// A fetch's lease: its id and, per chunk in the order the records were handed to the visitor,
/// the partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseGrant {
    /// 0 when nothing was leased (no records, or a pull-style poll).
    pub lease: u64,
    pub chunks: Vec<TopicPartition>,
    pub records: u32,
    /// Some partition waits for its store to load batches: fetch again once it has.
    pub pending: bool,
}

/// What the groups need of the log's partitions.
pub(crate) trait Partitions {
    /// (partition count, internal) of a topic.
    fn topic_shape(&self, topic: &str) -> Result<(u32, bool)>;
    /// (low watermark, durable end) of a partition.
    fn watermarks(&self, topic: &str, partition: u32) -> Result<(i64, i64)>;
    fn read(
        &mut self,
        topic: &str,
        partition: u32,
        offset: i64,
        records_max: u32,
        bytes_max: u64,
        visit: &mut dyn FnMut(&RecordRun<'_>),
    ) -> Result<Step<ReadOutcome>>;
    /// Appends commit records (key, value; no value: the commit is deleted) to
    /// `__consumer_offsets`; their offsets there.
    fn append_commits(&mut self, records: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<Vec<i64>>;
    fn now_ms(&self) -> i64;
}

/// A commit written but not yet durable: applied to the committed offsets when it is.
#[derive(Clone, Debug)]
pub(crate) struct PendingCommit {
    /// Its record's offset in `__consumer_offsets`.
    pub(crate) record_offset: i64,
    pub(crate) group: String,
    pub(crate) topic: String,
    pub(crate) partition: u32,
    /// None: the commit is deleted (a tombstone, written when its group is deleted).
    pub(crate) offset: Option<i64>,
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

/// What became of a record a handler failed on (`Groups::note_failure`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureNote {
    /// Counted; the member's position stays (the loop stops, as without a dead-letter topic).
    Failed,
    /// Counted, and delivered again: the member's next fetch starts at it, and under auto
    /// commit the group's commit goes back to it, so that a crash retries it too.
    Retry,
    /// Written to the dead-letter topic (durably, before this note): the member goes past it,
    /// and so does the group — under auto commit its commit does; under manual commit the
    /// record is marked, so that any later delivery of the group skips it.
    DeadLettered,
}

/// A chunk of a lease: one partition's records from `first` to before `end`.
#[derive(Clone, Debug)]
struct Chunk {
    tp: TopicPartition,
    first: i64,
    end: i64,
    /// The last offset handed over, when any was.
    handed: Option<i64>,
    /// Whether the chunk's auto commit (its end) was written.
    committed: bool,
    /// Where its auto commit went as it started: its end, or a record that failed before.
    committed_to: i64,
    /// Whether its delivery started (`start_chunk` said to deliver), and whether it was then
    /// stopped part-way (a later `start_chunk` said to skip the rest).
    started: bool,
    stopped: bool,
    /// Whether its position is no longer this lease's to rewind (a seek or a rebalance set it).
    settled: bool,
}

#[derive(Clone, Debug)]
struct Lease {
    id: u64,
    chunks: Vec<Chunk>,
}

struct Member {
    group: String,
    /// Sorts in join order, which makes assignments stable and readable ("member-0000000003").
    name: String,
    topics: Vec<String>,
    auto_commit: bool,
    commit_processed: bool,
    offset_reset: OffsetReset,
    assignment: Vec<TopicPartition>,
    positions: SortedMap<TopicPartition, i64>,
    pending_seeks: SortedMap<TopicPartition, i64>,
    paused: SortedSet<TopicPartition>,
    /// Where the next poll starts in `assignment`, so that no partition starves the others.
    cursor: usize,
    /// Bumped whenever `assignment` changes, even if it changes back.
    assignment_version: u64,
    /// This member's entries in the epoch and hand-over tables.
    slot: usize,
    lease: Option<Lease>,
}

struct Group {
    assignor: Assignor,
    generation: i32,
    members: Vec<MemberId>,
}

/// The group state of a log.
#[derive(Default)]
pub(crate) struct Groups {
    groups: SortedMap<String, Group>,
    members: HashMap<MemberId, Member>,
    next_member: u64,
    next_lease: u64,
    /// (group, topic, partition) -> committed offset, mirrored from `__consumer_offsets`.
    committed: SortedMap<(String, String, u32), i64>,
    /// Commits written and not yet durable, in write order.
    pending: Vec<PendingCommit>,
    /// (group, topic, partition) -> the delivery failures of its records, as written to
    /// `__consumer_offsets` (at that offset there; durable once the flush after it ends). Kept
    /// after a commit goes past the record (under auto commit, commits run ahead of handlers,
    /// and a record seeked back to has still failed before): one per partition and group, and
    /// compaction keeps only the latest.
    failures: SortedMap<(String, String, u32), (Failure, i64)>,
    /// The end, in `__consumer_offsets`, of the last failure record written and not yet
    /// durable (None: all are).
    failures_pending_end: Option<i64>,
    /// Per member slot: an epoch bumped by every seek, pause, resume and rebalance that
    /// concerns it. Allocated once, at the first join, so that its address stays put (the
    /// bindings hand it to JS as a view of wasm memory).
    epochs: Vec<u32>,
    /// Per member slot, two numbers the delivering side writes before each hand-over: the
    /// chunk's index in the current lease and the offset handed over (-1, -1: none yet).
    handed: Vec<f64>,
    free_slots: Vec<usize>,
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

    // ---- the tables shared with the delivering side ----

    /// The epoch table (one u32 per slot) and the hand-over table (two f64 per slot); empty
    /// until the first join.
    pub(crate) fn tables(&mut self) -> (&[u32], &mut [f64]) {
        (&self.epochs, &mut self.handed)
    }

    pub(crate) fn slot(&self, member: MemberId) -> Result<usize> {
        Ok(self.member(member)?.slot)
    }

    fn bump_epoch(&mut self, member: MemberId) {
        if let Some(slot) = self.members.get(&member).map(|m| m.slot) {
            if let Some(epoch) = self.epochs.get_mut(slot) {
                *epoch = epoch.wrapping_add(1);
            }
        }
    }

    /// Takes what the delivering side wrote into the hand-over table for `member`'s lease.
    fn sync_handed(&mut self, member: MemberId) {
        let Some(state) = self.members.get_mut(&member) else {
            return;
        };
        let slot = state.slot;
        let (Some(&index), Some(&offset)) =
            (self.handed.get(2 * slot), self.handed.get(2 * slot + 1))
        else {
            return;
        };
        let Some(lease) = state.lease.as_mut() else {
            return;
        };
        if index < 0.0 || index.fract() != 0.0 || offset.fract() != 0.0 {
            return;
        }
        // Only ever forward, and only within the chunk: the table is the caller's to write.
        if let Some(chunk) = lease.chunks.get_mut(index as usize) {
            let offset = offset as i64;
            if offset >= chunk.first
                && offset < chunk.end
                && chunk.handed.is_none_or(|h| offset > h)
            {
                chunk.handed = Some(offset);
            }
            // Every chunk before it that was started and not stopped was handed over whole
            // (the delivering side goes to the next chunk when one is done).
            for earlier in lease.chunks[..index as usize]
                .iter_mut()
                .filter(|c| c.started && !c.stopped)
            {
                earlier.handed = Some(earlier.end - 1);
            }
        }
    }

    fn clear_handed(&mut self, slot: usize) {
        if let Some(entry) = self.handed.get_mut(2 * slot..2 * slot + 2) {
            entry.copy_from_slice(&[-1.0, -1.0]);
        }
    }

    // ---- membership ----

    /// Joins `options.group_id` subscribed to `topics`; the group rebalances at once.
    pub(crate) fn join(
        &mut self,
        options: ConsumerOptions,
        topics: &[&str],
        src: &mut dyn Partitions,
    ) -> Result<MemberId> {
        validate_group_id(&options.group_id)?;
        let topics = checked_subscription(topics, src)?;
        if self.members.len() >= MEMBERS_MAX {
            return Err(Error::invalid_argument(format!(
                "a log has at most {MEMBERS_MAX} consumers in its groups; disconnect some first"
            )));
        }
        if let Some(group) = self.groups.get(&options.group_id) {
            if group.assignor != options.assignor {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "group {} uses the {} assignor; this consumer asked for {}",
                        Quoted(&options.group_id),
                        group.assignor.name(),
                        options.assignor.name()
                    ),
                ));
            }
        }
        if self.epochs.is_empty() {
            self.epochs = vec![0; MEMBERS_MAX];
            self.handed = vec![-1.0; 2 * MEMBERS_MAX];
            self.free_slots = (0..MEMBERS_MAX).rev().collect();
        }
        let slot = self
            .free_slots
            .pop()
            .ok_or_else(|| Error::invalid_argument("no free consumer slot"))?;
        self.clear_handed(slot);
        let id = self.next_member;
        self.next_member += 1;
        self.members.insert(
            id,
            Member {
                group: options.group_id.clone(),
                name: format!("member-{id:010}"),
                topics,
                auto_commit: options.auto_commit,
                commit_processed: options.commit_processed,
                offset_reset: options.offset_reset,
                assignment: Vec::new(),
                positions: SortedMap::new(),
                pending_seeks: SortedMap::new(),
                paused: SortedSet::new(),
                cursor: 0,
                assignment_version: 0,
                slot,
                lease: None,
            },
        );
        self.groups
            .get_or_insert_with(options.group_id.clone(), || Group {
                assignor: options.assignor,
                generation: 0,
                members: Vec::new(),
            })
            .members
            .push(id);
        self.rebalance(&options.group_id, src)?;
        Ok(id)
    }

    /// Replaces a member's subscription; the group rebalances.
    pub(crate) fn subscribe(
        &mut self,
        member: MemberId,
        topics: &[&str],
        src: &mut dyn Partitions,
    ) -> Result<()> {
        let topics = checked_subscription(topics, src)?;
        let state = self.member_mut(member)?;
        state.topics = topics;
        let group = state.group.clone();
        self.rebalance(&group, src)
    }

    /// Leaves the group: what its lease did not hand over is given back, and its partitions
    /// move to the others at once.
    pub(crate) fn leave(&mut self, member: MemberId, src: &mut dyn Partitions) -> Result<()> {
        self.member(member)?;
        self.release(member, None, src)?;
        let Some(state) = self.members.remove(&member) else {
            return Ok(());
        };
        self.bump_slot(state.slot);
        self.free_slots.push(state.slot);
        let group_id = state.group;
        let Some(group) = self.groups.get_mut(&group_id) else {
            return Ok(());
        };
        group.members.retain(|&m| m != member);
        if group.members.is_empty() {
            // Committed offsets stay: a member that joins later resumes from them.
            self.groups.remove(&group_id);
            Ok(())
        } else {
            self.rebalance(&group_id, src)
        }
    }

    fn bump_slot(&mut self, slot: usize) {
        if let Some(epoch) = self.epochs.get_mut(slot) {
            *epoch = epoch.wrapping_add(1);
        }
    }

    /// Reassigns a group's partitions. Eager assignors revoke everything (positions restart
    /// from the committed offsets); cooperative-sticky keeps what stays and its positions. A
    /// revoked partition's leased chunk is settled first, so that its next owner starts after
    /// what was handed over and no earlier.
    pub(crate) fn rebalance(&mut self, group_id: &str, src: &mut dyn Partitions) -> Result<()> {
        let Some(group) = self.groups.get_mut(group_id) else {
            return Ok(());
        };
        group.generation += 1;
        let assignor = group.assignor;
        let member_ids = group.members.clone();
        let mut counts = SortedMap::new();
        for id in &member_ids {
            if let Some(member) = self.members.get(id) {
                for topic in &member.topics {
                    if let Ok((count, _)) = src.topic_shape(topic) {
                        counts.insert(topic.clone(), count);
                    }
                }
            }
        }
        let subscriptions: Vec<MemberSubscription<'_>> = member_ids
            .iter()
            .filter_map(|id| self.members.get(id))
            .map(|m| MemberSubscription {
                member_id: &m.name,
                topics: &m.topics,
                owned: &m.assignment,
            })
            .collect();
        let mut assignment = assign(assignor, &subscriptions, &counts);
        let mut revoked: Vec<(MemberId, Vec<TopicPartition>)> = Vec::new();
        let mut changed: Vec<MemberId> = Vec::new();
        for id in &member_ids {
            let Some(member) = self.members.get(id) else {
                continue;
            };
            let new = assignment.remove(&member.name).unwrap_or_default();
            let lost: Vec<TopicPartition> = if assignor.is_cooperative() {
                member
                    .assignment
                    .iter()
                    .filter(|tp| new.binary_search(tp).is_err())
                    .cloned()
                    .collect()
            } else {
                member.assignment.clone()
            };
            if !lost.is_empty() {
                revoked.push((*id, lost));
            }
            // An eager rebalance restarts positions even when the partitions stay the same.
            if member.assignment != new || !assignor.is_cooperative() {
                changed.push(*id);
            }
            assignment.insert(member.name.clone(), new);
        }
        // Revoked chunks first: their commits decide where the next owners start.
        for (id, lost) in &revoked {
            self.settle_revoked(*id, lost, src)?;
        }
        for id in &member_ids {
            let Some(member) = self.members.get_mut(id) else {
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
            if changed.contains(id) {
                member.assignment_version += 1;
            }
            member.assignment = new;
            member.cursor = 0;
        }
        for id in changed {
            self.bump_epoch(id);
        }
        Ok(())
    }

    /// A member loses partitions: what its lease handed over of them is final; with auto
    /// commit, the commit says so (a chunk committed whole as its delivery started goes back
    /// to its first undelivered record), so the next owner starts right after it.
    fn settle_revoked(
        &mut self,
        member: MemberId,
        lost: &[TopicPartition],
        src: &mut dyn Partitions,
    ) -> Result<()> {
        self.sync_handed(member);
        let Some(state) = self.members.get_mut(&member) else {
            return Ok(());
        };
        let (group, auto_commit) = (state.group.clone(), state.auto_commit);
        let mut commits = Vec::new();
        if let Some(lease) = state.lease.as_mut() {
            for chunk in lease
                .chunks
                .iter_mut()
                .filter(|c| !c.settled && lost.contains(&c.tp))
            {
                chunk.settled = true;
                let next = chunk.handed.map_or(chunk.first, |h| h + 1);
                if auto_commit
                    && (chunk.committed || state.commit_processed && chunk.handed.is_some())
                {
                    commits.push((chunk.tp.clone(), next));
                }
            }
        }
        self.write_commits(&group, &commits, src)
    }

    /// Rebalances every group that subscribes to `topic` (after it grew).
    pub(crate) fn rebalance_subscribers(
        &mut self,
        topic: &str,
        src: &mut dyn Partitions,
    ) -> Result<()> {
        let groups: SortedSet<String> = self
            .members
            .values()
            .filter(|m| m.topics.iter().any(|t| t == topic))
            .map(|m| m.group.clone())
            .collect();
        for group in groups {
            self.rebalance(&group, src)?;
        }
        Ok(())
    }

    /// Rebalances every group (after the log was read back from its store).
    pub(crate) fn rebalance_all(&mut self, src: &mut dyn Partitions) -> Result<()> {
        for member in self.members.values_mut() {
            member.lease = None;
        }
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for group in names {
            self.rebalance(&group, src)?;
        }
        Ok(())
    }

    // ---- what a member sees ----

    pub(crate) fn assignment(&self, member: MemberId) -> Result<Vec<TopicPartition>> {
        Ok(self.member(member)?.assignment.clone())
    }

    pub(crate) fn owns(&self, member: MemberId, topic: &str, partition: u32) -> bool {
        self.members.get(&member).is_some_and(|m| {
            m.assignment
                .binary_search_by(|(t, p)| (t.as_str(), *p).cmp(&(topic, partition)))
                .is_ok()
        })
    }

    pub(crate) fn assignment_version(&self, member: MemberId) -> Result<u64> {
        Ok(self.member(member)?.assignment_version)
    }

    pub(crate) fn generation(&self, member: MemberId) -> Result<i32> {
        let group = &self.member(member)?.group;
        Ok(self.groups.get(group).map_or(0, |g| g.generation))
    }

    pub(crate) fn position(
        &self,
        member: MemberId,
        topic: &str,
        partition: u32,
    ) -> Result<Option<i64>> {
        Ok(self
            .member(member)?
            .positions
            .get(&(topic.to_owned(), partition))
            .copied())
    }

    pub(crate) fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        let group = self.groups.get(group_id)?;
        Some(GroupDescription {
            group_id: group_id.to_owned(),
            generation: group.generation,
            assignor: group.assignor,
            members: group
                .members
                .iter()
                .filter_map(|id| {
                    self.members.get(id).map(|m| MemberDescription {
                        member: *id,
                        name: m.name.clone(),
                        topics: m.topics.clone(),
                        assignment: m.assignment.clone(),
                    })
                })
                .collect(),
        })
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.groups.keys().cloned().collect()
    }

    /// Sets where the member next reads a partition of a subscribed topic. Applies at once
    /// when the member owns it, else when it is assigned. A leased chunk of it is settled.
    pub(crate) fn seek(
        &mut self,
        member: MemberId,
        topic: &str,
        partition: u32,
        offset: i64,
        src: &dyn Partitions,
    ) -> Result<()> {
        let (low, high) = src.watermarks(topic, partition)?;
        let state = self.member_mut(member)?;
        if !state.topics.iter().any(|t| t == topic) {
            return Err(Error::invalid_argument(format!(
                "this consumer does not subscribe to {topic}; subscribe before seeking",
                topic = Quoted(topic)
            )));
        }
        if offset < low || offset > high {
            return Err(Error::new(
                ErrorKind::OffsetOutOfRange,
                format!("offset {offset} is outside partition {partition} of {topic} (low {low}, high {high})", topic = Quoted(topic)),
            ));
        }
        let key = (topic.to_owned(), partition);
        if let Some(lease) = state.lease.as_mut() {
            for chunk in lease.chunks.iter_mut().filter(|c| c.tp == key) {
                chunk.settled = true;
            }
        }
        if state.assignment.binary_search(&key).is_ok() {
            state.positions.insert(key, offset);
        } else {
            state.pending_seeks.insert(key, offset);
        }
        self.bump_epoch(member);
        Ok(())
    }

    /// Stops (`paused = true`) or restarts delivery from partitions of a topic (all of them
    /// when `partitions` is None).
    pub(crate) fn set_paused(
        &mut self,
        member: MemberId,
        topic: &str,
        partitions: Option<&[u32]>,
        paused: bool,
        src: &dyn Partitions,
    ) -> Result<()> {
        let (count, _) = src.topic_shape(topic)?;
        let selected: Vec<u32> = match partitions {
            None => (0..count).collect(),
            Some(list) => {
                if let Some(&bad) = list.iter().find(|&&p| p >= count) {
                    return Err(crate::log::invalid_partition(topic, bad as i64, count));
                }
                list.to_vec()
            }
        };
        let state = self.member_mut(member)?;
        for partition in selected {
            let key = (topic.to_owned(), partition);
            if paused {
                state.paused.insert(key);
            } else {
                state.paused.remove(&key);
            }
        }
        self.bump_epoch(member);
        Ok(())
    }

    pub(crate) fn paused(&self, member: MemberId) -> Result<Vec<TopicPartition>> {
        Ok(self.member(member)?.paused.iter().cloned().collect())
    }

    /// Where a member starts in a partition it was just given.
    fn initial_position(
        &mut self,
        member: MemberId,
        tp: &TopicPartition,
        src: &dyn Partitions,
    ) -> Result<i64> {
        let (low, high) = src.watermarks(&tp.0, tp.1)?;
        let state = self.member_mut(member)?;
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

    /// Whether a poll by this member would deliver something now.
    pub(crate) fn has_records(&self, member: MemberId, src: &dyn Partitions) -> bool {
        let Some(state) = self.members.get(&member) else {
            return false;
        };
        state.assignment.iter().any(|tp| {
            if state.paused.contains(tp) {
                return false;
            }
            let Ok((low, high)) = src.watermarks(&tp.0, tp.1) else {
                return false;
            };
            match state.positions.get(tp) {
                Some(&position) => position < high || position < low,
                // Not started: there is something unless it would start at the end.
                None => high > low || state.pending_seeks.contains_key(tp),
            }
        })
    }

    /// Of `waiting`, the members that have records to fetch now: a send wakes only the
    /// consumers whose partitions got something.
    pub(crate) fn ready(&self, waiting: &[MemberId], src: &dyn Partitions) -> Vec<MemberId> {
        waiting
            .iter()
            .copied()
            .filter(|&m| self.has_records(m, src))
            .collect()
    }

    // ---- fetch, lease, release ----

    /// Reads up to `records_max` records (and, after the first, about `bytes_max` bytes) from
    /// the member's unpaused partitions, each partition in offset order, starting with a
    /// different partition each call so that none starves. The positions move past them.
    /// `commit_delivered` (a pull-style poll): with auto commit they count as delivered and are
    /// committed now. Otherwise they are leased (see `start_chunk`, `release`); a lease still
    /// held is released first.
    pub(crate) fn fetch(
        &mut self,
        member: MemberId,
        records_max: u32,
        bytes_max: u64,
        commit_delivered: bool,
        src: &mut dyn Partitions,
        visit: &mut dyn FnMut(&FetchedFrom<'_>, &RecordRun<'_>),
    ) -> Result<LeaseGrant> {
        check_fetch_limits(records_max, bytes_max)?;
        self.release(member, None, src)?;
        let mut pending = false;
        let state = self.member(member)?;
        let start = state.cursor;
        let auto_commit = state.auto_commit && commit_delivered;
        let group = state.group.clone();
        let count = state.assignment.len();
        let mut delivered: u32 = 0;
        let mut bytes: u64 = 0;
        let mut to_commit = Vec::new();
        let mut chunks = Vec::new();
        for step in 0..count {
            let index = (start + step) % count;
            // Only the partitions this fetch reaches are copied out, not the whole assignment
            // (which nothing in the loop changes).
            let state = self.member(member)?;
            let Some(tp) = state.assignment.get(index) else {
                break;
            };
            if state.paused.contains(tp) {
                continue;
            }
            // Caught up: nothing to read and no position to move. A member that owns 10,000
            // partitions wakes after a send to one; the others cost three lookups, no copies.
            if let Some(&position) = state.positions.get(tp) {
                if position == src.watermarks(&tp.0, tp.1)?.1 {
                    continue;
                }
            }
            let tp = &tp.clone();
            let (position, high) = self.current_position(member, tp, src)?;
            let mut batch_bytes = 0u64;
            // Looked up once the partition has records to hand over: a poll may pass over
            // thousands of partitions with none.
            let failures = &self.failures;
            let mut from: Option<FetchedFrom<'_>> = None;
            let outcome = match src.read(
                &tp.0,
                tp.1,
                position,
                records_max - delivered,
                bytes_max.saturating_sub(bytes).max(1),
                &mut |run| {
                    batch_bytes += run.bytes.len() as u64;
                    let from = from.get_or_insert_with(|| FetchedFrom {
                        topic: &tp.0,
                        partition: tp.1,
                        high,
                        failure: failures
                            .get(&(group.clone(), tp.0.clone(), tp.1))
                            .map(|(failure, _)| *failure),
                    });
                    visit(from, run)
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
            let state = self.member_mut(member)?;
            state.positions.insert(tp.clone(), outcome.next_offset);
            if outcome.records > 0 {
                state.cursor = index + 1;
                if auto_commit {
                    to_commit.push((tp.clone(), outcome.next_offset));
                }
                chunks.push(Chunk {
                    tp: tp.clone(),
                    first: position,
                    end: outcome.next_offset,
                    handed: None,
                    committed: false,
                    committed_to: 0,
                    started: false,
                    stopped: false,
                    settled: false,
                });
            }
            if delivered >= records_max || bytes >= bytes_max {
                break;
            }
        }
        if !to_commit.is_empty() {
            self.write_commits(&group, &to_commit, src)?;
        }
        let grant = LeaseGrant {
            lease: 0,
            chunks: chunks.iter().map(|c| c.tp.clone()).collect(),
            records: delivered,
            pending,
        };
        if commit_delivered || chunks.is_empty() {
            return Ok(grant);
        }
        self.next_lease += 1;
        let id = self.next_lease;
        let state = self.member_mut(member)?;
        let slot = state.slot;
        state.lease = Some(Lease { id, chunks });
        self.clear_handed(slot);
        Ok(LeaseGrant { lease: id, ..grant })
    }

    /// The member's position in an owned partition, initialised or reset as needed, and the
    /// partition's durable end.
    fn current_position(
        &mut self,
        member: MemberId,
        tp: &TopicPartition,
        src: &dyn Partitions,
    ) -> Result<(i64, i64)> {
        let (low, high) = src.watermarks(&tp.0, tp.1)?;
        let state = self.member(member)?;
        let reset = state.offset_reset;
        let position = match state.positions.get(tp) {
            None => self.initial_position(member, tp, src)?,
            // Retention moved the low watermark past us: follow the reset policy.
            Some(&position) if position < low || position > high => {
                reset_position(reset, tp, low, high)?
            }
            Some(&position) => position,
        };
        self.member_mut(member)?
            .positions
            .insert(tp.clone(), position);
        Ok((position, high))
    }

    /// The delivering side is about to hand over chunk `index` of `lease` (and has written
    /// its first offset into the hand-over table): whether it still may, and whether it must
    /// first wait for the next flush — with auto commit, the chunk's end is committed now, once
    /// for the whole chunk. Also the answer to "may I go on?" after the epoch moved.
    pub(crate) fn start_chunk(
        &mut self,
        member: MemberId,
        lease: u64,
        index: usize,
        src: &mut dyn Partitions,
    ) -> Result<ChunkStart> {
        self.sync_handed(member);
        let state = self.member(member)?;
        let Some(chunk) = state
            .lease
            .as_ref()
            .filter(|l| l.id == lease)
            .and_then(|l| l.chunks.get(index))
        else {
            return Ok(ChunkStart::Skip);
        };
        let owned = state.assignment.binary_search(&chunk.tp).is_ok();
        let skip = chunk.settled || !owned || state.paused.contains(&chunk.tp);
        let commit = !skip && state.auto_commit && !state.commit_processed && !chunk.committed;
        let (group, tp, first, end) = (
            state.group.clone(),
            chunk.tp.clone(),
            chunk.first,
            chunk.end,
        );
        let mut committed_to = end;
        if commit {
            // A record that a handler failed on before is retried at-least-once: the commit
            // stops before it, so that a crash during its retry retries it again.
            let to = match self.failure(&group, &tp.0, tp.1) {
                Some(f)
                    if f.dead_lettered != Some(f.offset) && (first..end).contains(&f.offset) =>
                {
                    f.offset
                }
                _ => end,
            };
            committed_to = to;
            self.write_commits(&group, &[(tp, to)], src)?;
        }
        let Some(chunk) = self
            .member_mut(member)?
            .lease
            .as_mut()
            .and_then(|l| l.chunks.get_mut(index))
        else {
            return Ok(ChunkStart::Skip);
        };
        if skip {
            chunk.stopped |= chunk.started;
            return Ok(ChunkStart::Skip);
        }
        chunk.started = true;
        if commit {
            chunk.committed = true;
            chunk.committed_to = committed_to;
        }
        Ok(if commit {
            ChunkStart::DeliverWhenDurable
        } else {
            ChunkStart::Deliver
        })
    }

    /// With `commit_processed`: commits what the hand-over table says was handed over (the
    /// caller writes it after each handler finished). Returns whether it wrote a commit.
    pub(crate) fn commit_handed(
        &mut self,
        member: MemberId,
        src: &mut dyn Partitions,
    ) -> Result<bool> {
        self.sync_handed(member);
        let state = self.member(member)?;
        if !state.auto_commit {
            return Ok(false);
        }
        let group = state.group.clone();
        let commits: Vec<(TopicPartition, i64)> = state
            .lease
            .iter()
            .flat_map(|l| l.chunks.iter())
            .filter(|c| !c.settled && state.assignment.binary_search(&c.tp).is_ok())
            .filter_map(|c| c.handed.map(|h| (c.tp.clone(), h + 1)))
            .collect();
        let written = self.write_commits(&group, &commits, src);
        written.map(|()| !commits.is_empty())
    }

    /// Like `release`, for a delivering side that cannot keep the hand-over table current as
    /// it goes (a loop in another tab): it claims each chunk whole as it starts it, so that a
    /// rebalance it has not heard of yet starts the partition's next owner after the chunk,
    /// and says here how far it really got in chunk `index` (`offset`: the last record handed
    /// over; one before the chunk's first for none). The claim moves back to that unless the
    /// chunk was settled meanwhile (a seek or a rebalance: someone may have started after it).
    pub(crate) fn release_at(
        &mut self,
        member: MemberId,
        lease: u64,
        index: u32,
        offset: i64,
        src: &mut dyn Partitions,
    ) -> Result<()> {
        self.sync_handed(member);
        let state = self.member_mut(member)?;
        let slot = state.slot;
        if let Some(taken) = state.lease.as_mut().filter(|l| l.id == lease) {
            if let Some(chunk) = taken.chunks.get_mut(index as usize) {
                if !chunk.settled && offset >= chunk.first - 1 && offset < chunk.end {
                    chunk.handed = (offset >= chunk.first).then_some(offset);
                }
            }
        }
        self.clear_handed(slot);
        self.release(member, Some(lease), src)
    }

    /// The delivering side is done with `lease` (None: whatever lease the member holds). What
    /// was not handed over goes back — the position rewinds to the first record not handed
    /// over — unless a seek or a rebalance settled the partition; with auto commit, a chunk
    /// committed whole as it started is committed again up to what was handed over.
    pub(crate) fn release(
        &mut self,
        member: MemberId,
        lease: Option<u64>,
        src: &mut dyn Partitions,
    ) -> Result<()> {
        self.sync_handed(member);
        let state = self.member_mut(member)?;
        if lease.is_some_and(|id| state.lease.as_ref().is_none_or(|l| l.id != id)) {
            return Ok(());
        }
        let Some(taken) = state.lease.take() else {
            return Ok(());
        };
        let slot = state.slot;
        let mut commits = Vec::new();
        for chunk in taken.chunks.iter().filter(|c| !c.settled) {
            let next = chunk.handed.map_or(chunk.first, |h| h + 1);
            if state.assignment.binary_search(&chunk.tp).is_err() {
                continue;
            }
            if next < chunk.end && state.positions.get(&chunk.tp) == Some(&chunk.end) {
                state.positions.insert(chunk.tp.clone(), next);
            }
            let handed_any = chunk.handed.is_some();
            if state.auto_commit
                && (chunk.committed && next != chunk.committed_to
                    || state.commit_processed && handed_any)
            {
                commits.push((chunk.tp.clone(), next));
            }
        }
        let group = state.group.clone();
        self.clear_handed(slot);
        self.write_commits(&group, &commits, src)
    }

    // ---- commits ----

    /// Commits offsets (the next offset to read) for partitions the member owns.
    pub(crate) fn commit(
        &mut self,
        member: MemberId,
        offsets: &[(&str, u32, i64)],
        src: &mut dyn Partitions,
    ) -> Result<()> {
        self.member(member)?;
        let mut entries = Vec::with_capacity(offsets.len());
        for &(topic, partition, offset) in offsets {
            let (_, high) = src.watermarks(topic, partition)?;
            if !self.owns(member, topic, partition) {
                return Err(not_assigned(topic, partition));
            }
            if offset < 0 || offset > high {
                return Err(Error::new(
                    ErrorKind::OffsetOutOfRange,
                    format!("cannot commit offset {offset} of partition {partition} of {topic}: its high watermark is {high}", topic = Quoted(topic)),
                ));
            }
            entries.push(((topic.to_owned(), partition), offset));
        }
        let group = self.member(member)?.group.clone();
        self.write_commits(&group, &entries, src)
    }

    /// Appends commits to `__consumer_offsets` as one batch; they apply once durable.
    /// Commits that change nothing are skipped, so an idle auto-commit writes nothing.
    fn write_commits(
        &mut self,
        group: &str,
        entries: &[(TopicPartition, i64)],
        src: &mut dyn Partitions,
    ) -> Result<()> {
        let entries: Vec<(TopicPartition, Option<i64>)> = entries
            .iter()
            .map(|(tp, offset)| (tp.clone(), Some(*offset)))
            .collect();
        self.write_commit_records(group, &entries, src)
    }

    /// Appends commits or deletions (None) to `__consumer_offsets` as one batch.
    fn write_commit_records(
        &mut self,
        group: &str,
        entries: &[(TopicPartition, Option<i64>)],
        src: &mut dyn Partitions,
    ) -> Result<()> {
        let now = src.now_ms();
        let changed: Vec<&(TopicPartition, Option<i64>)> = entries
            .iter()
            .filter(|((topic, partition), offset)| {
                self.latest_commit(group, topic, *partition) != *offset
            })
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        let records: Vec<(Vec<u8>, Option<Vec<u8>>)> = changed
            .iter()
            .map(|((topic, partition), offset)| {
                let mut key = Vec::new();
                consumer_offsets::encode_key(&mut key, group, topic, *partition);
                let value = offset.map(|offset| {
                    let mut value = Vec::new();
                    consumer_offsets::encode_value(&mut value, offset, now);
                    value
                });
                (key, value)
            })
            .collect();
        let placed = src.append_commits(&records)?;
        for (((topic, partition), offset), record_offset) in changed.into_iter().zip(placed) {
            self.pending.push(PendingCommit {
                record_offset,
                group: group.to_owned(),
                topic: topic.clone(),
                partition: *partition,
                offset: *offset,
            });
        }
        Ok(())
    }

    // ---- delivery failures ----

    /// The delivery failures of the record that failed last in a partition, for a group.
    pub(crate) fn failure(&self, group_id: &str, topic: &str, partition: u32) -> Option<Failure> {
        self.failures
            .get(&(group_id.to_owned(), topic.to_owned(), partition))
            .map(|(failure, _)| *failure)
    }

    /// Writes (Some) or ends (None) the failures of a partition's record, for a group.
    fn write_failure(
        &mut self,
        group: &str,
        topic: &str,
        partition: u32,
        failure: Option<Failure>,
        src: &mut dyn Partitions,
    ) -> Result<()> {
        let key = (group.to_owned(), topic.to_owned(), partition);
        if failure.is_none() && !self.failures.contains_key(&key) {
            return Ok(());
        }
        let value = failure.map(|failure| {
            let mut value = Vec::new();
            consumer_offsets::encode_failure(&mut value, &failure);
            value
        });
        let placed = src.append_commits(&[(failure_key(group, topic, partition), value)])?;
        let at = placed.last().copied().unwrap_or(0);
        self.failures_pending_end = Some(at + 1);
        match failure {
            Some(failure) => self.failures.insert(key, (failure, at)),
            None => self.failures.remove(&key),
        };
        Ok(())
    }

    /// Checks that `offset` is a record of a partition of a topic the member subscribes to
    /// (owned, unless `anyOwner`); its group and the partition's low watermark.
    fn delivered_record(
        &self,
        member: MemberId,
        topic: &str,
        partition: u32,
        offset: i64,
        any_owner: bool,
        src: &dyn Partitions,
    ) -> Result<(String, i64)> {
        let (low, high) = src.watermarks(topic, partition)?;
        let state = self.member(member)?;
        let subscribed = state.topics.iter().any(|t| t == topic);
        if !(self.owns(member, topic, partition) || any_owner && subscribed) {
            return Err(not_assigned(topic, partition));
        }
        if offset < low || offset >= high {
            return Err(Error::new(
                ErrorKind::OffsetOutOfRange,
                format!("offset {offset} is not a record of partition {partition} of {topic} (low {low}, high {high})", topic = Quoted(topic)),
            ));
        }
        Ok((state.group.clone(), low))
    }

    /// Notes what became of record `offset` of a partition the member owns (see
    /// `FailureNote`). Failures are counted in `__consumer_offsets` (durable with the next
    /// flush, so that a crash does not reset them). Returns how many times handlers failed on it.
    pub(crate) fn note_failure(
        &mut self,
        member: MemberId,
        topic: &str,
        partition: u32,
        offset: i64,
        note: FailureNote,
        src: &mut dyn Partitions,
    ) -> Result<u32> {
        // A record that went to the dead-letter topic is marked for the group even when a
        // rebalance took the partition meanwhile: its new owner must skip it too.
        let dead = note == FailureNote::DeadLettered;
        let (group, low) = self.delivered_record(member, topic, partition, offset, dead, src)?;
        let previous = self.failure(&group, topic, partition);
        let counted = previous
            .filter(|f| f.offset == offset)
            .map_or(0, |f| f.failures);
        let failure = Failure {
            offset,
            failures: if dead {
                counted.max(1)
            } else {
                counted.saturating_add(1)
            },
            // A later record's failure keeps the mark of the last dead-lettered one.
            dead_lettered: if dead {
                Some(offset)
            } else {
                previous.and_then(|f| f.dead_lettered)
            },
        };
        self.write_failure(&group, topic, partition, Some(failure), src)?;
        if !self.owns(member, topic, partition) {
            return Ok(failure.failures);
        }
        let latest = self.latest_commit(&group, topic, partition);
        let state = self.member(member)?;
        // A seek (or pause-and-seek) the app made while the handler ran settled the chunk:
        // the app said where to go next, and neither the retry nor the mark's commit undoes it.
        let settled = state.lease.as_ref().is_some_and(|lease| {
            lease
                .chunks
                .iter()
                .any(|c| c.settled && c.tp.0 == topic && c.tp.1 == partition)
        });
        if settled {
            return Ok(failure.failures);
        }
        let auto_commit = state.auto_commit;
        let (commit, position) = match note {
            FailureNote::Failed => return Ok(failure.failures),
            FailureNote::Retry => (
                (auto_commit && latest.is_some_and(|c| c > offset)).then_some(offset),
                offset,
            ),
            // Under manual commit the group's commit moves past it only where the app had
            // committed everything before it: an app's own commits stay its own.
            FailureNote::DeadLettered => {
                let past = if auto_commit {
                    latest.is_none_or(|c| c <= offset)
                } else {
                    latest == Some(offset) || (latest.is_none() && offset == low)
                };
                (past.then_some(offset + 1), offset + 1)
            }
        };
        if let Some(to) = commit {
            self.write_commits(&group, &[((topic.to_owned(), partition), to)], src)?;
        }
        self.seek(member, topic, partition, position, src)?;
        Ok(failure.failures)
    }

    /// Ends failures that no record answers any more (past a partition's end after recovery,
    /// or of a topic that is gone), so that a later record at that offset does not inherit them.
    pub(crate) fn end_stale_failures(&mut self, src: &mut dyn Partitions) -> Result<()> {
        let stale: Vec<(String, String, u32)> = self
            .failures
            .iter()
            .filter(|((_, topic, partition), (failure, _))| {
                let last = failure.offset.max(failure.dead_lettered.unwrap_or(0));
                !matches!(src.watermarks(topic, *partition), Ok((_, end)) if last < end)
            })
            .map(|(key, _)| key.clone())
            .collect();
        for (group, topic, partition) in stale {
            self.write_failure(&group, &topic, partition, None, src)?;
        }
        Ok(())
    }

    /// Ends every failure of a group (`topic`: of that topic only).
    fn end_failures(
        &mut self,
        group_id: Option<&str>,
        topic: Option<&str>,
        src: &mut dyn Partitions,
    ) -> Result<()> {
        let ended: Vec<(String, String, u32)> = self
            .failures
            .keys()
            .filter(|(g, t, _)| {
                group_id.is_none_or(|id| id == g) && topic.is_none_or(|name| name == t)
            })
            .cloned()
            .collect();
        for (group, topic, partition) in ended {
            self.write_failure(&group, &topic, partition, None, src)?;
        }
        Ok(())
    }

    /// Refuses to change a group from outside while it has live members: they would not
    /// hear of it (Kafka refuses the same).
    fn check_no_members(&self, group_id: &str, what: &str) -> Result<()> {
        validate_group_id(group_id)?;
        match self.groups.get(group_id) {
            Some(group) if !group.members.is_empty() => Err(Error::new(
                ErrorKind::NonEmptyGroup,
                format!("cannot {what} of group {group_id}: it has {} live member(s); disconnect them first", group.members.len(), group_id = Quoted(group_id)),
            )),
            _ => Ok(()),
        }
    }

    /// Sets a group's committed offsets from outside it (KafkaJS's admin.setOffsets), for a
    /// group without live members; `offset` is the next to read, from 0 to the high watermark.
    pub(crate) fn set_offsets(
        &mut self,
        group_id: &str,
        offsets: &[(&str, u32, i64)],
        src: &mut dyn Partitions,
    ) -> Result<()> {
        self.check_no_members(group_id, "set the offsets")?;
        let mut entries = Vec::with_capacity(offsets.len());
        for &(topic, partition, offset) in offsets {
            let (_, internal) = src.topic_shape(topic)?;
            if internal {
                return Err(Error::invalid_argument(format!(
                    "{topic} is internal: its offsets are not a group's to set",
                    topic = Quoted(topic)
                )));
            }
            let (_, high) = src.watermarks(topic, partition)?;
            if offset < 0 || offset > high {
                return Err(Error::new(
                    ErrorKind::OffsetOutOfRange,
                    format!("cannot set offset {offset} of partition {partition} of {topic}: its high watermark is {high}", topic = Quoted(topic)),
                ));
            }
            entries.push(((topic.to_owned(), partition), offset));
        }
        self.write_commits(group_id, &entries, src)
    }

    /// Deletes every committed offset of a group without live members (KafkaJS's
    /// admin.deleteGroups): tombstones in `__consumer_offsets`, so that a reopen agrees.
    pub(crate) fn delete_group(&mut self, group_id: &str, src: &mut dyn Partitions) -> Result<()> {
        self.check_no_members(group_id, "delete the commits")?;
        let mut held: SortedSet<TopicPartition> = self
            .committed
            .keys()
            .filter(|(group, _, _)| group == group_id)
            .map(|(_, topic, partition)| (topic.clone(), *partition))
            .collect();
        held.extend(
            self.pending
                .iter()
                .filter(|c| c.group == group_id)
                .map(|c| (c.topic.clone(), c.partition)),
        );
        let deletions: Vec<(TopicPartition, Option<i64>)> = held
            .into_iter()
            .filter(|(topic, partition)| self.latest_commit(group_id, topic, *partition).is_some())
            .map(|tp| (tp, None))
            .collect();
        let has_failures = self.failures.keys().any(|(g, _, _)| g == group_id);
        if deletions.is_empty() && !has_failures {
            return Err(Error::new(
                ErrorKind::GroupIdNotFound,
                format!(
                    "group {group_id} has no committed offsets to delete",
                    group_id = Quoted(group_id)
                ),
            ));
        }
        self.write_commit_records(group_id, &deletions, src)?;
        self.end_failures(Some(group_id), None, src)
    }

    /// A group with a live member subscribed to `topic`, if any.
    pub(crate) fn subscriber_group(&self, topic: &str) -> Option<String> {
        self.members
            .values()
            .find(|m| m.topics.iter().any(|t| t == topic))
            .map(|m| m.group.clone())
    }

    /// Deletes every group's commits of `topic` (it is being deleted): tombstones, so that a
    /// new topic of that name starts without them, now and after a reopen. True while any
    /// commit of it, or its deletion, is not durable yet.
    pub(crate) fn delete_topic_commits(
        &mut self,
        topic: &str,
        src: &mut dyn Partitions,
    ) -> Result<bool> {
        let mut by_group: SortedMap<String, Vec<(TopicPartition, Option<i64>)>> = SortedMap::new();
        let held: SortedSet<(String, u32)> = self
            .committed
            .keys()
            .filter(|(_, t, _)| t == topic)
            .map(|(g, _, p)| (g.clone(), *p))
            .chain(
                self.pending
                    .iter()
                    .filter(|c| c.topic == topic)
                    .map(|c| (c.group.clone(), c.partition)),
            )
            .collect();
        for (group, partition) in held {
            if self.latest_commit(&group, topic, partition).is_some() {
                by_group
                    .get_or_insert_with(group, Vec::new)
                    .push(((topic.to_owned(), partition), None));
            }
        }
        for (group, deletions) in by_group {
            self.write_commit_records(&group, &deletions, src)?;
        }
        self.end_failures(None, Some(topic), src)?;
        let durable_left = self.committed.keys().any(|(_, t, _)| t == topic);
        Ok(durable_left
            || self.pending.iter().any(|c| c.topic == topic)
            || self.failures_pending_end.is_some())
    }

    /// Ids of groups with live members or committed offsets (durable or on their way), sorted.
    pub(crate) fn known_names(&self) -> Vec<String> {
        let mut names: SortedSet<String> = self.groups.keys().cloned().collect();
        for (group, topic, partition) in self.committed.keys() {
            if self.latest_commit(group, topic, *partition).is_some() {
                names.insert(group.clone());
            }
        }
        for c in &self.pending {
            if self
                .latest_commit(&c.group, &c.topic, c.partition)
                .is_some()
            {
                names.insert(c.group.clone());
            }
        }
        names.into_iter().collect()
    }

    /// The group's committed offset of a partition (the next offset to read), if any.
    pub(crate) fn committed(&self, group_id: &str, topic: &str, partition: u32) -> Option<i64> {
        self.committed
            .get(&(group_id.to_owned(), topic.to_owned(), partition))
            .copied()
    }

    /// The group's latest commit of a partition, durable or still pending.
    fn latest_commit(&self, group_id: &str, topic: &str, partition: u32) -> Option<i64> {
        self.pending
            .iter()
            .rev()
            .find(|c| c.group == group_id && c.topic == topic && c.partition == partition)
            .map_or_else(|| self.committed(group_id, topic, partition), |c| c.offset)
    }

    /// `__consumer_offsets` became durable up to `end`: the commits written below it apply.
    pub(crate) fn commits_durable(&mut self, end: i64) {
        let (durable, pending): (Vec<PendingCommit>, Vec<PendingCommit>) =
            std::mem::take(&mut self.pending)
                .into_iter()
                .partition(|c| c.record_offset < end);
        for commit in durable {
            let key = (commit.group, commit.topic, commit.partition);
            match commit.offset {
                Some(offset) => self.committed.insert(key, offset),
                None => self.committed.remove(&key),
            };
        }
        self.pending = pending;
        if self.failures_pending_end.is_some_and(|e| e <= end) {
            self.failures_pending_end = None;
        }
    }

    /// A failed flush took `__consumer_offsets` back to `end`: commits written after it are gone,
    /// and so are failures (their earlier values are not kept: a count starts again, a
    /// dead-lettered record may be delivered again — at-least-once, never skipped wrongly).
    pub(crate) fn commits_taken_back(&mut self, end: i64) {
        self.pending.retain(|c| c.record_offset < end);
        self.failures.retain(|_, (_, at)| *at < end);
        if self.failures_pending_end.is_some_and(|e| e > end) {
            self.failures_pending_end = None;
        }
    }

    /// Forgets every commit (the log is read back from its store).
    pub(crate) fn clear_commits(&mut self) {
        self.committed.clear();
        self.pending.clear();
        self.failures.clear();
        self.failures_pending_end = None;
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
    pub(crate) fn apply_commit_record(
        &mut self,
        record_offset: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) {
        let Some((kind, group, topic, partition)) = key.and_then(consumer_offsets::decode_key_of)
        else {
            return;
        };
        if kind == KeyKind::Failure {
            match value.and_then(consumer_offsets::decode_failure) {
                Some(failure) => self
                    .failures
                    .insert((group, topic, partition), (failure, record_offset)),
                None => self.failures.remove(&(group, topic, partition)),
            };
            return;
        }
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

fn checked_subscription(topics: &[&str], src: &dyn Partitions) -> Result<Vec<String>> {
    if topics.is_empty() {
        return Err(Error::invalid_argument(
            "subscribe needs at least one topic",
        ));
    }
    let mut names = Vec::with_capacity(topics.len());
    for &topic in topics {
        let (_, internal) = src.topic_shape(topic)?;
        if internal {
            return Err(Error::invalid_argument(format!(
                "{topic} is internal and cannot be subscribed to",
                topic = Quoted(topic)
            )));
        }
        names.push(topic.to_owned());
    }
    sort_unstable(&mut names);
    names.dedup();
    Ok(names)
}

fn failure_key(group: &str, topic: &str, partition: u32) -> Vec<u8> {
    let mut key = Vec::new();
    consumer_offsets::encode_key_of(&mut key, KeyKind::Failure, group, topic, partition);
    key
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
        format!("partition {partition} of {topic} is not assigned to this consumer (a rebalance moved it, or the consumer does not subscribe to {topic}); only its owner commits it", topic = Quoted(topic)),
    )
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
                "no valid position in partition {} of {} (low {low}, high {high}) and offset reset is none; seek first",
                tp.1, Quoted(&tp.0)
            ),
        )),
    }
}
