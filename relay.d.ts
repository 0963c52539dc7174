// Types of `brook/relay` (Node): the HTTP relay that puts pages' uploads (syncTo) in Kafka.

export interface RelayOptions {
  /** KafkaJS's connection settings. */
  kafka: { brokers: string[]; clientId?: string; ssl?: unknown; sasl?: unknown; connectionTimeout?: number; requestTimeout?: number };
  /** The shared secret pages send as `Authorization: Bearer <token>` (at least 16 characters). */
  token: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8787; 0: a free port. */
  port?: number;
  /** Larger bodies get 413 (default 4 MiB). */
  maxBodyBytes?: number;
  /** More uploads at once get 429 with Retry-After (default 8). */
  maxInFlight?: number;
  /** Access-Control-Allow-Origin (default "*"; the token is what admits a page). */
  allowOrigin?: string;
}

export interface Relay {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export function startRelay(options: RelayOptions): Promise<Relay>;
