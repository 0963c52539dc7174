// Types of `brook/bridge` (Node): a brook log mirrored to and from a Kafka cluster, on KafkaJS.

import type { Log } from "./index.js";

export const BRIDGE_HEADER: "x-brook-bridge";

export interface BridgeOptions {
  log: Log;
  /** KafkaJS's connection settings. */
  kafka: {
    brokers: string[];
    clientId?: string;
    ssl?: unknown;
    sasl?: unknown;
    connectionTimeout?: number;
    requestTimeout?: number;
    logLevel?: number;
    logCreator?: unknown;
  };
  /** The down direction's KafkaJS consumer settings. */
  kafkaConsumer?: { sessionTimeout?: number; rebalanceTimeout?: number; heartbeatInterval?: number; maxBytes?: number; maxWaitTimeInMs?: number };
  /** brook topics, mirrored to Kafka topics of the same name unless kafkaTopic says otherwise. */
  topics: Array<string | { topic: string; kafkaTopic?: string }>;
  /** "up": brook → Kafka (default); "down": Kafka → brook; "both". */
  direction?: "up" | "down" | "both";
  /** The consumer group on each side (brook's for up, Kafka's for down); default "brook-bridge". */
  groupId?: string;
  /** KafkaJS's idempotent producer for up: true, false, or "auto" (default): idempotent until
   * the broker refuses producer ids, then without. */
  idempotent?: boolean | "auto";
  /** Backoff between reconnects: from initialMs (default 300), doubling, at most maxMs (30,000). */
  retry?: { initialMs?: number; maxMs?: number };
}

export interface PartitionLag {
  topic: string;
  partition: number;
  lag: number;
}

export class Bridge {
  readonly state: "connecting" | "connected" | "retrying" | "stopped";
  readonly lastError: unknown;
  /** Whether up sends with the idempotent producer now. */
  readonly idempotent: boolean;
  on(event: "state", listener: (state: Bridge["state"]) => void): () => void;
  on(event: "error", listener: (error: unknown) => void): () => void;
  on(event: "topicRecreated", listener: (event: { topic: string; kafkaTopic: string }) => void): () => void;
  lag(): Promise<{ up: PartitionLag[]; down: PartitionLag[] }>;
  stop(): Promise<void>;
}

export function bridge(options: BridgeOptions): Bridge;
