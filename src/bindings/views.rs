// The core's results as the bindings hand them to JS: plain serializable views (offsets as
// numbers, camelCase names), each built from the core type it shows.

use serde::Serialize;

use crate::assignor::TopicPartition;
use crate::group::{GroupDescription, MemberDescription, PartitionLag};
use crate::log::{ClampedCommit, PartitionOffsets, RecoveryReport};
use crate::store::{DamagedRange, PartitionKey, PartitionRecovery};
use crate::topic::TopicInfo;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TopicView {
    topic: String,
    partitions: u32,
    max_message_bytes: u32,
    segment_bytes: f64,
    retention_ms: Option<f64>,
    retention_bytes: Option<f64>,
    cleanup_policy: &'static str,
    internal: bool,
}

impl From<TopicInfo> for TopicView {
    fn from(t: TopicInfo) -> TopicView {
        TopicView {
            topic: t.name,
            partitions: t.partitions,
            max_message_bytes: t.config.max_message_bytes,
            segment_bytes: t.config.segment_bytes as f64,
            retention_ms: t.config.retention_ms.map(|v| v as f64),
            retention_bytes: t.config.retention_bytes.map(|v| v as f64),
            cleanup_policy: t.config.cleanup_policy.name(),
            internal: t.internal,
        }
    }
}

#[derive(Serialize)]
pub(super) struct OffsetsView {
    partition: u32,
    low: f64,
    high: f64,
    durable: f64,
}

impl From<&PartitionOffsets> for OffsetsView {
    fn from(o: &PartitionOffsets) -> OffsetsView {
        OffsetsView {
            partition: o.partition,
            low: o.low as f64,
            high: o.high as f64,
            durable: o.durable as f64,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RecoveryView {
    partitions: Vec<PartitionRecoveryView>,
    clamped_commits: Vec<ClampedView>,
    commits_damaged: Option<String>,
    clean: bool,
}

impl From<&RecoveryReport> for RecoveryView {
    fn from(report: &RecoveryReport) -> RecoveryView {
        RecoveryView {
            partitions: report
                .partitions
                .iter()
                .map(PartitionRecoveryView::from)
                .collect(),
            clamped_commits: report
                .clamped_commits
                .iter()
                .map(ClampedView::from)
                .collect(),
            commits_damaged: report.commits_damaged.clone(),
            clean: report.is_clean(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PartitionRecoveryView {
    topic: String,
    partition: u32,
    truncated_bytes: f64,
    truncated_at: Option<f64>,
    damaged: Vec<DamagedView>,
    ignored: Vec<String>,
}

impl From<&(PartitionKey, PartitionRecovery)> for PartitionRecoveryView {
    fn from((key, r): &(PartitionKey, PartitionRecovery)) -> PartitionRecoveryView {
        PartitionRecoveryView {
            topic: key.topic.clone(),
            partition: key.partition,
            truncated_bytes: r.truncated_bytes as f64,
            truncated_at: r.truncated_at.map(|o| o as f64),
            damaged: r.damaged.iter().map(DamagedView::from).collect(),
            ignored: r.ignored.clone(),
        }
    }
}

#[derive(Serialize)]
struct DamagedView {
    from: f64,
    to: f64,
    reason: String,
}

impl From<&DamagedRange> for DamagedView {
    fn from(d: &DamagedRange) -> DamagedView {
        DamagedView {
            from: d.from as f64,
            to: d.to as f64,
            reason: d.reason.clone(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClampedView {
    group_id: String,
    topic: String,
    partition: u32,
    committed: f64,
    end: f64,
}

impl From<&ClampedCommit> for ClampedView {
    fn from(c: &ClampedCommit) -> ClampedView {
        ClampedView {
            group_id: c.group.clone(),
            topic: c.topic.clone(),
            partition: c.partition,
            committed: c.committed as f64,
            end: c.end as f64,
        }
    }
}

#[derive(Serialize)]
pub(super) struct TopicPartitionView {
    topic: String,
    partition: u32,
}

#[derive(Serialize)]
pub(super) struct LagView {
    partition: u32,
    low: f64,
    high: f64,
    committed: Option<f64>,
    lag: f64,
}

impl From<&PartitionLag> for LagView {
    fn from(l: &PartitionLag) -> LagView {
        LagView {
            partition: l.partition,
            low: l.low as f64,
            high: l.high as f64,
            committed: l.committed.map(|c| c as f64),
            lag: l.lag as f64,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MemberView {
    member_id: f64,
    name: String,
    topics: Vec<String>,
    assignment: Vec<TopicPartitionView>,
}

impl From<MemberDescription> for MemberView {
    fn from(m: MemberDescription) -> MemberView {
        MemberView {
            member_id: m.member as f64,
            name: m.name,
            topics: m.topics,
            assignment: partitions_view(m.assignment),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GroupView {
    group_id: String,
    generation: i32,
    assignor: &'static str,
    members: Vec<MemberView>,
}

impl From<GroupDescription> for GroupView {
    fn from(group: GroupDescription) -> GroupView {
        GroupView {
            group_id: group.group_id,
            generation: group.generation,
            assignor: group.assignor.name(),
            members: group.members.into_iter().map(MemberView::from).collect(),
        }
    }
}

pub(super) fn partitions_view(list: Vec<TopicPartition>) -> Vec<TopicPartitionView> {
    list.into_iter()
        .map(|(topic, partition)| TopicPartitionView { topic, partition })
        .collect()
}
