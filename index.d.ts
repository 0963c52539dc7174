// The public API of brook, for Node (files) and browsers; see README.md and DESIGN.md.

/** The stable `code` of every error brook throws. */
export type BrookErrorCode =
  | "UNKNOWN_TOPIC"
  | "INVALID_TOPIC_NAME"
  | "TOPIC_ALREADY_EXISTS"
  | "INVALID_PARTITION"
  | "INVALID_PARTITIONS"
  | "OFFSET_OUT_OF_RANGE"
  | "MESSAGE_TOO_LARGE"
  | "INVALID_RECORD"
  | "INVALID_CONFIG"
  | "INVALID_ARGUMENT"
  | "LOG_LOCKED"
  | "CORRUPT_DATA"
  | "QUOTA_EXCEEDED"
  | "CLOSED"
  | "IO_ERROR"
  | "UNKNOWN_MEMBER_ID"
  | "REBALANCE_IN_PROGRESS"
  | "NON_EMPTY_GROUP"
  | "GROUP_ID_NOT_FOUND"
  /** Browsers: an IndexedDB log that this origin made came back empty (evicted or cleared). */
  | "STORAGE_EVICTED"
  | "UNSUPPORTED";

export class BrookError extends Error {
  constructor(code: BrookErrorCode, message: string);
  readonly name: "BrookError";
  readonly code: BrookErrorCode;
}

export interface LogOptions {
  /** Node: a directory of segment files (created if missing). */
  path?: string;
  /** Browsers: an IndexedDB database of this name (created if missing). One tab at a time
   * holds a named log (a Web Lock); another tab's open fails with LOG_LOCKED. */
  name?: string;
  /** With `name`: wait for the tab that holds the log to close it, instead of failing. */
  waitForLock?: boolean;
  /** With `name`: share the log between tabs (see RemoteLog) instead of failing. */
  share?: boolean;
  /** "strict" (default): a send or commit resolves once durable (fsync; an IndexedDB
   * transaction with strict durability); concurrent ones share one flush.
   * "relaxed": once written to the OS (IndexedDB: a relaxed transaction). */
  durability?: "strict" | "relaxed";
  /** Memory for recently read record batches, in bytes (default 16 MiB, at most 1 GiB; 0:
   * none). The log itself stays in its files or database: memory holds an index of its
   * batches, this cache, and what was sent but is not durable yet. */
  cacheBytes?: number;
  /** With `name`: ask the browser to keep this origin's storage under pressure
   * (navigator.storage.persist(); Firefox asks the user). storage() tells the answer. */
  persist?: boolean;
  /** With `name`, when the log's IndexedDB data is gone though this origin made it (a note in
   * localStorage says so): "error" (default) fails with STORAGE_EVICTED; "open" opens it
   * empty and reports it in recovery().evicted. */
  evicted?: "error" | "open";
}

export interface StorageReport {
  /** Whether the browser keeps the data under storage pressure (files: true; memory: false). */
  persisted: boolean;
  /** navigator.storage.estimate(), for the whole origin; null where unknown (Node). */
  usage: number | null;
  quota: number | null;
}

export interface ViewOptions<V = unknown> {
  topic: string;
  /** The view's own consumer group: it commits what the view applied. Views of one groupId
   * split the partitions between them, each holding its own partitions' keys. */
  groupId: string;
  /** How values become the view's: "text" (default), "json", "bytes" (a copy), or a function. */
  decode?: "text" | "json" | "bytes" | ((bytes: Uint8Array) => unknown);
  /** Folds each record of a key into its value (KStream.aggregate); returning undefined deletes
   * the key. Without it a view holds each key's latest value. A null value (tombstone) always
   * deletes the key. */
  reduce?: (previous: V | undefined, value: any, message: KafkaMessage) => V | undefined;
  /** A record that decode or reduce throws on is skipped (the key keeps its value) and its
   * error given here (default: the console). */
  onError?: (error: unknown) => void;
  maxRecords?: number;
}

export interface ViewChange<V = unknown> {
  key: string;
  /** undefined: the key was deleted (a tombstone, or its partition went to another view). */
  value: V | undefined;
  previous: V | undefined;
  partition: number;
  /** The record's offset; null when a rebalance took the partition away. */
  offset: number | null;
}

/** A live read model of a topic (log.view): a Map-like table of key → value, rebuilt from the
 * topic's records each time it is made, then kept up to date as records arrive. */
export interface View<V = unknown> extends Iterable<[string, V]> {
  readonly topic: string;
  /** Resolves once every partition the view is assigned has been applied up to its high
   * watermark at the time the view was made. */
  readonly ready: Promise<void>;
  readonly size: number;
  get(key: string): V | undefined;
  has(key: string): boolean;
  entries(): IterableIterator<[string, V]>;
  keys(): IterableIterator<string>;
  values(): IterableIterator<V>;
  forEach(callback: (value: V, key: string, view: View<V>) => void, thisArg?: unknown): void;
  /** Called after each change; returns a function that stops it. */
  onChange(listener: (change: ViewChange<V>) => void): () => void;
  /** Stops its consumer (it leaves its group); the view keeps what it holds. */
  close(): Promise<void>;
}

export interface SyncOptions {
  /** The relay's shared secret. */
  token: string;
  topics: string[];
  /** The consumer group whose commits say what went up (default "brook-sync"). */
  groupId?: string;
  /** This device's id at the relay (default: a random one, kept in localStorage). */
  clientId?: string;
  /** Records per upload up to about this many bytes (default 1 MiB). */
  maxRequestBytes?: number;
  /** Backoff while offline: from initialMs (500), doubling, at most maxMs (30,000). */
  retry?: { initialMs?: number; maxMs?: number };
}

export interface Sync {
  /** "syncing", "offline" (retrying), "refused" (the relay said no: a token, a size; retrying
   * slowly), "stopped". */
  readonly state: "syncing" | "offline" | "refused" | "stopped";
  readonly lastError: unknown;
  on(event: "state", listener: (state: Sync["state"]) => void): () => void;
  on(event: "error", listener: (error: unknown) => void): () => void;
  stop(): Promise<void>;
}

/** Uploads `topics` of `log` to the relay at `relayUrl` (brook/relay), each partition in
 * order, committing what the relay acknowledged: offline, records wait in the log. */
export function syncTo(log: Log, relayUrl: string, options: SyncOptions): Sync;

/** Browsers: deletes the IndexedDB database of a named log (close the log first). */
export function deleteLog(name: string): Promise<void>;

export type CleanupPolicy = "delete" | "compact";

export interface TopicConfig {
  /** Largest encoded record, in bytes; default 1 MiB. */
  maxMessageBytes?: number;
  /** Segment size before a new one starts, in bytes; default 16 MiB. */
  segmentBytes?: number;
  /** Keep records this long; -1 or absent: forever. Applied by itself after writes, or by `maintain()`. */
  retentionMs?: number;
  /** Keep this many bytes per partition; -1 or absent: no limit. */
  retentionBytes?: number;
  cleanupPolicy?: CleanupPolicy;
  /** How long compaction keeps a tombstone; default 1 day. */
  deleteRetentionMs?: number;
}

export interface CreateTopicRequest extends TopicConfig {
  topic: string;
  /** 1 to 10,000; default 1. */
  partitions?: number;
  /** KafkaJS's spelling of `partitions`. */
  numPartitions?: number;
}

export interface TopicDescription {
  topic: string;
  partitions: number;
  maxMessageBytes: number;
  segmentBytes: number;
  retentionMs?: number;
  retentionBytes?: number;
  cleanupPolicy: CleanupPolicy;
  internal: boolean;
}

export interface PartitionOffsets {
  partition: number;
  /** The first offset still stored. */
  low: number;
  /** The next offset to be written. */
  high: number;
  /** The end of what is durable (Kafka's high watermark): consumers are served records up to
   * here, and a commit never goes beyond it. Equal to `high` once sends have resolved. */
  durable: number;
}

/** What opening a log found and did (`log.recovery()`). */
export interface RecoveryReport {
  /** Nothing was cut, damaged, left alone or clamped. */
  clean: boolean;
  partitions: Array<{
    topic: string;
    partition: number;
    /** Bytes of a torn tail cut away: written after the last durable point, never acknowledged. */
    truncatedBytes: number;
    /** The offset the cut tail started at. */
    truncatedAt?: number;
    /** Offset ranges (`to` exclusive) whose records are damaged or missing: reading them fails
     * with CORRUPT_DATA, and the records after them are served. */
    damaged: Array<{ from: number; to: number; reason: string }>;
    /** Files or values that are not brook's, left alone. */
    ignored: string[];
  }>;
  /** Commits that pointed beyond their partition's end, clamped to it. */
  clampedCommits: Array<{ groupId: string; topic: string; partition: number; committed: number; end: number }>;
  /** Why some commits of __consumer_offsets could not be read, if any could not. */
  commitsDamaged?: string;
  /** Opened with { evicted: "open" }: the log's IndexedDB data was gone; when it was made. */
  evicted?: { created: number | null };
}

export interface PartitionLag extends Omit<PartitionOffsets, "durable"> {
  topic: string;
  /** The group's committed offset (the next to read), if any. */
  committed?: number;
  lag: number;
}

/** Keys, values and header values: strings are sent as UTF-8. */
export type Bytes = string | Uint8Array | ArrayBufferView | ArrayBuffer;

export interface Message {
  key?: Bytes | null;
  /** null or absent: a tombstone (compaction removes the key). */
  value?: Bytes | null;
  /** Explicit placement; else the key's murmur2 partition (Kafka's), else the partitioner's. */
  partition?: number;
  /** Milliseconds since 1970; default now. */
  timestamp?: number;
  headers?: Record<string, Bytes | null | undefined>;
}

export interface ProducerRecord {
  topic: string;
  /** 1 to 100,000 messages, appended with one call into the core. */
  messages: Message[];
}

export interface RecordMetadata {
  topic: string;
  partition: number;
  offset: number;
}

export interface ProducerOptions {
  /** "default": by key (Kafka's murmur2), keyless messages spread; "random"; "roundRobin". */
  partitioner?: "default" | "random" | "roundRobin";
}

export interface Producer {
  /** Resolves with one placement per message, in order, once durable under the log's setting. */
  send(record: ProducerRecord): Promise<RecordMetadata[]>;
}

/** A delivered record; key, value and header values are bytes (views, not copies). */
export interface KafkaMessage {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Record<string, Uint8Array | null>;
  /** Which delivery attempt this is for the consumer's group: 1, plus the times a handler of
   * the group failed on this record (counted durably, so a crash does not reset it; a crash
   * in the middle of a handler is not a failure). */
  attempts: number;
}

export interface DeadLetterOptions {
  /** Where records go that handlers keep failing on; made with one partition if missing. It
   * may not be one of the consumer's own topics. */
  topic: string;
  /** Attempts before a record is dead-lettered: 1 to 1000, default 3. */
  maxAttempts?: number;
}

export interface ConsumerOptions {
  groupId: string;
  /** true (default): run() commits each chunk (a run of one partition's records, at most
   * maxRecords) as its delivery starts, durably, before the handler sees it: at-most-once —
   * a crash while processing skips the rest of that chunk, and records never handed over
   * (revoked, paused, the loop stopped) go back. poll() commits what it returns.
   * false: only commit()/commitOffsets() commit (at-least-once). */
  autoCommit?: boolean;
  /** KafkaJS's: with either, auto commit instead commits what handlers finished, every so many
   * milliseconds (autoCommitInterval) or records (autoCommitThreshold), and at the end of each
   * chunk: at-least-once — a crash redelivers what was not committed yet. */
  autoCommitInterval?: number;
  autoCommitThreshold?: number;
  assignor?: "cooperativeSticky" | "range" | "roundRobin";
  /** Where to start in a partition without a commit: its beginning, or (default) its end. */
  fromBeginning?: boolean;
  /** Records per poll (default 500) and about how many bytes of them, as stored (default 1 MiB). */
  maxRecords?: number;
  maxBytes?: number;
  /** With it, run({ eachMessage }) retries a record whose handler failed, in place (the loop
   * goes on), and after maxAttempts writes it to the dead-letter topic — key, value, timestamp
   * and headers, plus headers brook.dlq.group / topic / partition / offset / attempts / error —
   * durably, and the group goes past it. Without it, a failing handler stops the loop. */
  deadLetter?: DeadLetterOptions;
}

export type ConsumerSubscription =
  | { topics: string[]; topic?: never; fromBeginning?: boolean }
  | { topic: string; topics?: never; fromBeginning?: boolean };

export interface EachMessagePayload {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

export interface Batch {
  topic: string;
  partition: number;
  /** The partition's next offset to be written, when polled. */
  highWatermark: number;
  messages: KafkaMessage[];
}

export interface EachBatchPayload {
  batch: Batch;
  /** false once the consumer is stopping (disconnect, close). */
  isRunning(): boolean;
  /** true once a rebalance moved the partition to another member. */
  isStale(): boolean;
}

export interface ConsumerRunConfig {
  eachMessage?: (payload: EachMessagePayload) => Promise<void> | void;
  eachBatch?: (payload: EachBatchPayload) => Promise<void> | void;
  /** Called with the error that stopped the loop (a handler's, or the log's); default
   * console.error. The consumer then leaves its group, so its partitions move to the other
   * members at once; a later run() rejoins. With autoCommit false the failed message is
   * delivered again (to whichever member owns its partition). */
  onError?: (error: unknown) => void;
  /** This run's fetch size, instead of the consumer's maxRecords option. */
  maxRecords?: number;
}

export interface GroupDescription {
  groupId: string;
  generation: number;
  assignor: "range" | "roundRobin" | "cooperativeSticky";
  members: Array<{ memberId: number; name: string; topics: string[]; assignment: TopicPartition[] }>;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface TopicPartitionOffset extends TopicPartition {
  /** The next offset to read (Kafka's convention). */
  offset: number;
}

export interface TopicPartitions {
  topic: string;
  /** Absent: every partition of the topic. */
  partitions?: number[];
}

export interface Consumer {
  /** Joins the group on the first call; later calls add topics. */
  subscribe(subscription: ConsumerSubscription): Promise<void>;
  /** Its member id in the group (as in describeGroup); null while it is not a member. */
  readonly memberId: number | null;
  /** Resolves once the loop runs; it runs until disconnect(), close() or an error. */
  run(config: ConsumerRunConfig): Promise<void>;
  /** Pull style: the messages available now (possibly none). Not while run() is active. */
  poll(options?: { maxRecords?: number; maxBytes?: number }): Promise<KafkaMessage[]>;
  /** Commits past `message` (its offset + 1). */
  commit(message: TopicPartition & { offset: number }): Promise<void>;
  commitOffsets(offsets: TopicPartitionOffset[]): Promise<void>;
  seek(target: TopicPartitionOffset): void;
  pause(topics: TopicPartitions[]): void;
  resume(topics: TopicPartitions[]): void;
  assignment(): TopicPartition[];
  /** The next offset this consumer reads from an owned partition; null before its first read. */
  position(partition: TopicPartition): number | null;
  paused(): TopicPartition[];
  lag(): PartitionLag[];
  /** Stops the loop after the handler in flight and leaves the group. Idempotent. */
  disconnect(): Promise<void>;
}

export class Log {
  private constructor();
  /** `{}`: in memory; `{ path }`: files (Node); `{ name }`: IndexedDB (browsers). */
  static open(options?: LogOptions): Promise<Log>;
  /** Browsers: the first tab opening `name` with share owns it; the others get a RemoteLog
   * that works through the owner over a BroadcastChannel. */
  static open(options: LogOptions & { name: string; share: true }): Promise<Log | RemoteLog>;
  createTopic(request: CreateTopicRequest): Promise<void>;
  createPartitions(request: { topic: string; count: number }): Promise<void>;
  topics(): TopicDescription[];
  offsets(topic: string): PartitionOffsets[];
  /** Runs retention and compaction; resolves with the number of segments changed. */
  maintain(): Promise<number>;
  /** What opening this log found: torn tails cut, damaged ranges, clamped commits. */
  recovery(): RecoveryReport;
  /** A group's commits and lag per partition of a topic, with or without live members. */
  lag(request: { groupId: string; topic: string }): Array<Omit<PartitionLag, "topic">>;
  /** A group's live members and their partitions; undefined when it has none. */
  describeGroup(groupId: string): GroupDescription | undefined;
  /** Ids of the groups with live members; with includeEmpty also of groups that have only
   * committed offsets (Kafka's ListGroups). */
  groups(options?: { includeEmpty?: boolean }): string[];
  /** Deletes a topic, its records and every group's commits of it; resolves once durable.
   * A live group member subscribed to it: NON_EMPTY_GROUP. */
  deleteTopic(topic: string): Promise<void>;
  /** Sets the committed offsets (each the next offset to read) of a group without live
   * members; NON_EMPTY_GROUP while it has some. Resolves once durable. */
  setOffsets(request: { groupId: string; offsets: TopicPartitionOffset[] }): Promise<void>;
  /** Deletes the committed offsets of a group without live members (NON_EMPTY_GROUP while it
   * has some, GROUP_ID_NOT_FOUND when it has none). Resolves once durable. */
  deleteGroup(groupId: string): Promise<void>;
  producer(options?: ProducerOptions): Producer;
  consumer(options: ConsumerOptions): Consumer;
  /** A live read model of a topic, kept by a consumer group of its own. */
  view<V = unknown>(options: ViewOptions<V>): View<V>;
  /** Whether the browser keeps this log's storage, and how much the origin uses. */
  storage(): Promise<StorageReport>;
  /** Stops every consumer loop, flushes and releases the log (its lock). Idempotent; every
   * later call fails with CLOSED. Do not await it inside a consumer's handler. */
  close(): Promise<void>;
}

/** Browsers: a log owned by another tab, used through it (Log.open({ name, share: true })).
 * topics() and offsets() answer from the owner's last announced change. Its consumers are
 * members of the owner's groups; each poll is committed by the owner as it returns when
 * autoCommit is on. When the owner closes, one client tab takes the log over by itself and
 * the others follow it; consumers rejoin with the same subscriptions and handlers. */
export class RemoteLog {
  private constructor();
  topics(): TopicDescription[];
  offsets(topic: string): PartitionOffsets[];
  createTopic(request: CreateTopicRequest): Promise<void>;
  createPartitions(request: { topic: string; count: number }): Promise<void>;
  maintain(): Promise<number>;
  lag(request: { groupId: string; topic: string }): Promise<Array<Omit<PartitionLag, "topic">>>;
  describeGroup(groupId: string): Promise<GroupDescription | undefined>;
  groups(options?: { includeEmpty?: boolean }): Promise<string[]>;
  setOffsets(request: { groupId: string; offsets: TopicPartitionOffset[] }): Promise<void>;
  deleteGroup(groupId: string): Promise<void>;
  deleteTopic(topic: string): Promise<void>;
  producer(options?: ProducerOptions): Producer;
  consumer(options: ConsumerOptions): RemoteConsumer;
  view<V = unknown>(options: ViewOptions<V>): View<V>;
  close(): Promise<void>;
}

export interface RemoteConsumer {
  subscribe(subscription: ConsumerSubscription): Promise<void>;
  run(config: ConsumerRunConfig): Promise<void>;
  poll(options?: { maxRecords?: number; maxBytes?: number }): Promise<KafkaMessage[]>;
  commit(message: KafkaMessage): Promise<void>;
  commitOffsets(offsets: TopicPartitionOffset[]): Promise<void>;
  seek(target: TopicPartitionOffset): Promise<void>;
  pause(topics: TopicPartitions[]): Promise<void>;
  resume(topics: TopicPartitions[]): Promise<void>;
  /** The partitions owned as of the last poll. */
  assignment(): TopicPartition[];
  disconnect(): Promise<void>;
}
