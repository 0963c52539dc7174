// Types of `brook/kafkajs`: KafkaJS 2.x's API as brook answers it (README.md, "KafkaJS
// compatibility", says call by call what differs). Shapes follow KafkaJS's own typings.

import type { Log } from "./index.js";

type Bytes = Uint8Array;

export interface KafkaConfig {
  clientId?: string;
  /** Accepted and unused: brook has no brokers. */
  brokers?: string[] | (() => string[] | Promise<string[]>);
  ssl?: unknown;
  sasl?: unknown;
  connectionTimeout?: number;
  authenticationTimeout?: number;
  reauthenticationThreshold?: number;
  requestTimeout?: number;
  enforceRequestTimeout?: boolean;
  retry?: RetryOptions;
  socketFactory?: unknown;
  logLevel?: number;
  logCreator?: (level: number) => (entry: LogEntry) => void;
  /** brook: an open Log to use (it stays open when the clients disconnect)... */
  log?: Log;
  /** ...or a directory (Node) or IndexedDB name (browsers) to open on the first connect and
   * close after the last disconnect; none of these: a memory log for this Kafka's lifetime. */
  path?: string;
  name?: string;
  durability?: "strict" | "relaxed";
  cacheBytes?: number;
  /** Partitions of topics created on first use (Kafka's num.partitions); default 1. */
  numPartitions?: number;
}

export interface LogEntry {
  namespace: string;
  level: number;
  label: string;
  log: { timestamp: string; message: string; [key: string]: unknown };
}

export interface Logger {
  info(message: string, extra?: object): void;
  error(message: string, extra?: object): void;
  warn(message: string, extra?: object): void;
  debug(message: string, extra?: object): void;
  namespace(namespace: string): Logger;
  setLogLevel(level: number): void;
}

export interface RetryOptions {
  maxRetryTime?: number;
  initialRetryTime?: number;
  factor?: number;
  multiplier?: number;
  retries?: number;
  restartOnFailure?: (error: Error) => Promise<boolean>;
}

export class Kafka {
  constructor(config: KafkaConfig);
  producer(config?: ProducerConfig): Producer;
  consumer(config: ConsumerConfig): Consumer;
  admin(config?: { retry?: RetryOptions }): Admin;
  logger(): Logger;
}

export interface PartitionMetadata {
  partitionErrorCode: number;
  partitionId: number;
  leader: number;
  replicas: number[];
  isr: number[];
  offlineReplicas?: number[];
}

export interface IHeaders {
  [key: string]: Bytes | string | undefined;
}

export interface Message {
  key?: Bytes | string | null;
  value: Bytes | string | null;
  partition?: number;
  headers?: IHeaders;
  timestamp?: string;
}

export type ICustomPartitioner = () => (args: { topic: string; partitionMetadata: PartitionMetadata[]; message: Message }) => number;

export const Partitioners: {
  DefaultPartitioner: ICustomPartitioner;
  JavaCompatiblePartitioner: ICustomPartitioner;
  LegacyPartitioner: ICustomPartitioner;
};

export const PartitionAssigners: { roundRobin: (...args: unknown[]) => unknown };

export enum CompressionTypes {
  None = 0,
  GZIP = 1,
  Snappy = 2,
  LZ4 = 3,
  ZSTD = 4,
}
export const CompressionCodecs: Record<number, unknown>;

export const logLevel: { NOTHING: 0; ERROR: 1; WARN: 2; INFO: 4; DEBUG: 5 };

export interface ProducerConfig {
  createPartitioner?: ICustomPartitioner;
  retry?: RetryOptions;
  metadataMaxAge?: number;
  allowAutoTopicCreation?: boolean;
  idempotent?: boolean;
  /** transaction() is refused (KafkaJSNotImplemented). */
  transactionalId?: string;
  transactionTimeout?: number;
  maxInFlightRequests?: number;
}

export interface ProducerRecord {
  topic: string;
  messages: Message[];
  /** -1, 0 or 1: checked; every send resolves once durable under the log's setting. */
  acks?: number;
  timeout?: number;
  /** Checked; batches are stored uncompressed. */
  compression?: CompressionTypes;
}

export interface RecordMetadata {
  topicName: string;
  partition: number;
  errorCode: number;
  offset?: string;
  timestamp?: string;
  baseOffset?: string;
  logAppendTime?: string;
  logStartOffset?: string;
}

export interface ProducerBatch {
  acks?: number;
  timeout?: number;
  compression?: CompressionTypes;
  topicMessages?: Array<{ topic: string; messages: Message[] }>;
}

export interface InstrumentationEvent<T> {
  id: number;
  type: string;
  timestamp: number;
  payload: T;
}

export type RemoveInstrumentationEventListener = () => void;

export interface Producer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  isIdempotent(): boolean;
  send(record: ProducerRecord): Promise<RecordMetadata[]>;
  sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]>;
  transaction(): Promise<never>;
  readonly events: Record<"CONNECT" | "DISCONNECT" | "REQUEST" | "REQUEST_TIMEOUT" | "REQUEST_QUEUE_SIZE", string>;
  on(eventName: string, listener: (event: InstrumentationEvent<any>) => void): RemoveInstrumentationEventListener;
  logger(): Logger;
}

export interface ConsumerConfig {
  groupId: string;
  /** [PartitionAssigners.roundRobin] (the default); others are refused. */
  partitionAssigners?: unknown[];
  metadataMaxAge?: number;
  sessionTimeout?: number;
  rebalanceTimeout?: number;
  heartbeatInterval?: number;
  maxBytesPerPartition?: number;
  minBytes?: number;
  maxBytes?: number;
  maxWaitTimeInMs?: number;
  retry?: RetryOptions;
  allowAutoTopicCreation?: boolean;
  maxInFlightRequests?: number;
  readUncommitted?: boolean;
  rackId?: string;
}

export interface KafkaMessage {
  key: Bytes | null;
  value: Bytes | null;
  timestamp: string;
  attributes: number;
  offset: string;
  headers: { [key: string]: Bytes | null };
  isControlRecord: boolean;
  batchContext: null;
  magicByte: number;
}

export interface Batch {
  topic: string;
  partition: number;
  highWatermark: string;
  messages: KafkaMessage[];
  isEmpty(): boolean;
  firstOffset(): string | null;
  lastOffset(): string;
  offsetLag(): string;
  offsetLagLow(): string;
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

export interface OffsetsByTopicPartition {
  topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>;
}

export interface EachMessagePayload {
  topic: string;
  partition: number;
  message: KafkaMessage;
  heartbeat(): Promise<void>;
  pause(): () => void;
}

export interface EachBatchPayload {
  batch: Batch;
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  pause(): () => void;
  commitOffsetsIfNecessary(offsets?: OffsetsByTopicPartition): Promise<void>;
  uncommittedOffsets(): OffsetsByTopicPartition;
  isRunning(): boolean;
  isStale(): boolean;
}

export interface ConsumerRunConfig {
  autoCommit?: boolean;
  autoCommitInterval?: number | null;
  autoCommitThreshold?: number | null;
  eachBatchAutoResolve?: boolean;
  partitionsConsumedConcurrently?: number;
  eachBatch?: (payload: EachBatchPayload) => Promise<void>;
  eachMessage?: (payload: EachMessagePayload) => Promise<void>;
}

export interface MemberDescription {
  clientHost: string;
  clientId: string;
  memberId: string;
  memberAssignment: Bytes;
  memberMetadata: Bytes;
}

export interface GroupDescription {
  errorCode: number;
  groupId: string;
  members: MemberDescription[];
  protocol: string;
  protocolType: string;
  state: "Stable" | "Empty" | "Dead";
}

export interface Consumer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  subscribe(subscription: { topics: Array<string | RegExp>; fromBeginning?: boolean } | { topic: string | RegExp; fromBeginning?: boolean }): Promise<void>;
  stop(): Promise<void>;
  run(config?: ConsumerRunConfig): Promise<void>;
  commitOffsets(offsets: Array<TopicPartitionOffset & { metadata?: string | null }>): Promise<void>;
  seek(target: TopicPartitionOffset): void;
  describeGroup(): Promise<GroupDescription>;
  pause(topics: Array<{ topic: string; partitions?: number[] }>): void;
  paused(): Array<{ topic: string; partitions: number[] }>;
  resume(topics: Array<{ topic: string; partitions?: number[] }>): void;
  readonly events: Record<string, string>;
  on(eventName: string, listener: (event: InstrumentationEvent<any>) => void): RemoveInstrumentationEventListener;
  logger(): Logger;
}

export interface ITopicConfig {
  topic: string;
  numPartitions?: number;
  /** -1 or 1: brook keeps one copy. */
  replicationFactor?: number;
  replicaAssignment?: unknown[];
  /** cleanup.policy, retention.ms, retention.bytes, segment.bytes, max.message.bytes,
   * delete.retention.ms; others are refused (INVALID_CONFIG). */
  configEntries?: Array<{ name: string; value: string }>;
}

export interface Admin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  listTopics(): Promise<string[]>;
  createTopics(options: { validateOnly?: boolean; waitForLeaders?: boolean; timeout?: number; topics: ITopicConfig[] }): Promise<boolean>;
  createPartitions(options: { validateOnly?: boolean; timeout?: number; topicPartitions: Array<{ topic: string; count: number; assignments?: number[][] }> }): Promise<boolean>;
  fetchTopicMetadata(options?: { topics: string[] }): Promise<{ topics: Array<{ name: string; partitions: PartitionMetadata[] }> }>;
  fetchOffsets(options: { groupId: string; topics?: string[]; resolveOffsets?: boolean }): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string; metadata: string | null }> }>>;
  fetchTopicOffsets(topic: string): Promise<Array<{ partition: number; offset: string; high: string; low: string }>>;
  setOffsets(options: { groupId: string; topic: string; partitions: Array<{ partition: number; offset: string }> }): Promise<void>;
  resetOffsets(options: { groupId: string; topic: string; earliest: boolean }): Promise<void>;
  listGroups(): Promise<{ groups: Array<{ groupId: string; protocolType: string }> }>;
  describeGroups(groupIds: string[]): Promise<{ groups: GroupDescription[] }>;
  deleteGroups(groupIds: string[]): Promise<Array<{ groupId: string; errorCode?: number }>>;
  describeCluster(): Promise<{ brokers: Array<{ nodeId: number; host: string; port: number }>; controller: number | null; clusterId: string }>;
  /** Refused with KafkaJSNotImplemented: */
  deleteTopics(options: { topics: string[]; timeout?: number }): Promise<never>;
  deleteTopicRecords(options: unknown): Promise<never>;
  fetchTopicOffsetsByTimestamp(topic: string, timestamp?: number): Promise<never>;
  describeConfigs(configs: unknown): Promise<never>;
  alterConfigs(configs: unknown): Promise<never>;
  createAcls(options: unknown): Promise<never>;
  describeAcls(options: unknown): Promise<never>;
  deleteAcls(options: unknown): Promise<never>;
  alterPartitionReassignments(request: unknown): Promise<never>;
  listPartitionReassignments(request: unknown): Promise<never>;
  readonly events: Record<string, string>;
  on(eventName: string, listener: (event: InstrumentationEvent<any>) => void): RemoveInstrumentationEventListener;
  logger(): Logger;
}

export class KafkaJSError extends Error {
  readonly retriable: boolean;
  /** brook's stable code of the failure behind this error, if any (BrookError.code). */
  readonly brookCode?: string;
}
export class KafkaJSNonRetriableError extends KafkaJSError {}
export class KafkaJSProtocolError extends KafkaJSError {
  /** Kafka's error name, e.g. "UNKNOWN_TOPIC_OR_PARTITION". */
  readonly type: string;
  /** Kafka's error number, e.g. 3. */
  readonly code: number;
}
export class KafkaJSOffsetOutOfRange extends KafkaJSProtocolError {
  readonly topic?: string;
  readonly partition?: number;
}
export class KafkaJSNotImplemented extends KafkaJSNonRetriableError {}
export class KafkaJSDeleteGroupsError extends KafkaJSError {
  readonly groups: Array<{ groupId: string; errorCode: number; error: KafkaJSError }>;
}

export const ResourceTypes: Record<string, number>;
export const ConfigResourceTypes: Record<string, number>;
