// The relay (Node; `brook relay` or `import { startRelay } from "brook/relay"`): a browser
// cannot speak Kafka's protocol, so a page's brook log uploads to this small HTTP server
// (`syncTo`, js/sync.js), which produces to Kafka with KafkaJS and answers once Kafka has
// acknowledged (acks: all). It listens on 127.0.0.1 by default and wants a shared-secret token.
//
//   POST /v1/produce   Authorization: Bearer <token>   Content-Type: application/json
//   { client, topic, partition, partitions, records: [{ offset, key, value, headers, timestamp }] }
//   (bytes in base64; `offset`: the record's offset in the page's log)
//   → 200 { next }: Kafka has every record of the partition before brook offset `next`
//   GET /v1/status?topic=<name>   Authorization: Bearer <token>
//   → 200 { partitions: [{ partition, high }] } of that topic in Kafka ([] while it has none),
//     so that a page can show its records arriving there; 503 while Kafka is away
//
// A record lands on the same partition number in Kafka as in the page's log. The relay
// remembers, per client and partition, the next offset it expects, so that a page that
// uploads again what it could not commit (closed mid-upload) is not written twice; that memory
// lives as long as the relay does (after a relay restart, at-least-once).
// Limits: bodies over `maxBodyBytes` get 413; more than `maxInFlight` uploads at once get 429
// with Retry-After (back-pressure); a bad token 401; Kafka unreachable 503.

import { createServer } from "node:http";
import { Buffer } from "node:buffer";
import { timingSafeEqual } from "node:crypto";
import { BrookError, invalidArgument } from "./errors.js";
import { describe, readOptions, setOwn } from "./args.js";

const RELAY_OPTIONS = ["kafka", "token", "host", "port", "maxBodyBytes", "maxInFlight", "allowOrigin"];

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function sameToken(given, token) {
  const a = Buffer.from(given ?? "");
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readBody(request, maxBytes) {
  const declared = Number(request.headers["content-length"] ?? 0);
  if (declared > maxBytes) throw new HttpError(413, `body over ${maxBytes} bytes`);
  const chunks = [];
  let size = 0;
  for await (const chunk of request) {
    size += chunk.length;
    if (size > maxBytes) throw new HttpError(413, `body over ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "the body is not JSON");
  }
}

function decodeBytes(value, what) {
  if (value === null || value === undefined) return null;
  if (typeof value !== "string") throw new HttpError(400, `${what} must be base64 or null`);
  return Buffer.from(value, "base64");
}

/** An upload, checked field by field. */
function readUpload(body) {
  if (typeof body !== "object" || body === null) throw new HttpError(400, "the body must be an object");
  const { client, topic, partition, partitions, records } = body;
  if (typeof client !== "string" || client.length === 0 || client.length > 200) throw new HttpError(400, "client must be a string");
  if (typeof topic !== "string" || topic.length === 0 || topic.length > 249) throw new HttpError(400, "topic must be a topic name");
  if (!Number.isSafeInteger(partition) || partition < 0) throw new HttpError(400, "partition must be a whole number");
  if (!Number.isSafeInteger(partitions) || partitions <= partition || partitions > 10_000) throw new HttpError(400, "partitions must exceed partition");
  if (!Array.isArray(records) || records.length === 0 || records.length > 100_000) throw new HttpError(400, "records must be a non-empty array");
  let previous = -1;
  const messages = records.map((record, index) => {
    if (typeof record !== "object" || record === null) throw new HttpError(400, `records[${index}] must be an object`);
    const { offset, key, value, headers = {}, timestamp } = record;
    if (!Number.isSafeInteger(offset) || offset <= previous) throw new HttpError(400, `records[${index}].offset must grow`);
    previous = offset;
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new HttpError(400, `records[${index}].timestamp must be milliseconds`);
    if (typeof headers !== "object" || headers === null) throw new HttpError(400, `records[${index}].headers must be an object`);
    const out = {};
    for (const [name, bytes] of Object.entries(headers)) setOwn(out, name, decodeBytes(bytes, `records[${index}].headers.${name}`) ?? Buffer.alloc(0));
    return { offset, key: decodeBytes(key, `records[${index}].key`), value: decodeBytes(value, `records[${index}].value`), headers: out, timestamp: String(timestamp), partition };
  });
  return { client, topic, partition, partitions, messages };
}

/** Starts a relay; resolves once it listens: `{ url, port, close() }`. */
export async function startRelay(options) {
  const settings = readOptions(options, "relay options", RELAY_OPTIONS);
  const { token, host = "127.0.0.1", port = 8787, maxBodyBytes = 4 * 1024 * 1024, maxInFlight = 8, allowOrigin = "*" } = settings;
  if (typeof token !== "string" || token.length < 16) {
    throw invalidArgument(`token must be a shared secret of at least 16 characters, got ${describe(token)}`);
  }
  const kafkaConfig = readOptions(settings.kafka, "kafka", ["brokers", "clientId", "ssl", "sasl", "connectionTimeout", "requestTimeout"]);
  if (kafkaConfig.brokers === undefined) throw invalidArgument("kafka needs brokers");
  let KafkaJS;
  try {
    KafkaJS = await import("kafkajs");
  } catch (error) {
    throw new BrookError("UNSUPPORTED", "the relay needs KafkaJS: npm install kafkajs", { cause: error });
  }
  const kafka = new KafkaJS.Kafka({ clientId: "brook-relay", logLevel: KafkaJS.logLevel.NOTHING, ...kafkaConfig, retry: { retries: 2, initialRetryTime: 200 } });
  let producer = null;
  let admin = null;
  const partitionCounts = new Map();
  /** client/topic/partition -> the next brook offset Kafka does not have yet. */
  const next = new Map();
  /** Uploads of one client partition, one after another (order within a partition). */
  const queues = new Map();
  let inFlight = 0;

  async function connected() {
    if (producer === null) {
      const candidate = kafka.producer({ allowAutoTopicCreation: false });
      const candidateAdmin = kafka.admin();
      await Promise.all([candidate.connect(), candidateAdmin.connect()]);
      producer = candidate;
      admin = candidateAdmin;
    }
    return { producer, admin };
  }

  async function disconnect() {
    const [p, a] = [producer, admin];
    producer = null;
    admin = null;
    partitionCounts.clear();
    await Promise.allSettled([p?.disconnect(), a?.disconnect()]);
  }

  async function ensureTopic(topic, partitions) {
    if ((partitionCounts.get(topic) ?? 0) >= partitions) return;
    const { admin } = await connected();
    const existing = (await admin.listTopics()).includes(topic)
      ? (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions.length
      : 0;
    if (existing === 0) await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
    else if (existing < partitions) await admin.createPartitions({ topicPartitions: [{ topic, count: partitions }] });
    partitionCounts.set(topic, Math.max(existing, partitions));
  }

  async function produce({ client, topic, partition, partitions, messages }) {
    const id = `${client}\u0000${topic}\u0000${partition}`;
    const previous = queues.get(id) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(async () => {
      const from = next.get(id) ?? 0;
      const fresh = messages.filter((m) => m.offset >= from);
      const end = messages[messages.length - 1].offset + 1;
      if (fresh.length > 0) {
        try {
          await ensureTopic(topic, partitions);
          const placed = await (await connected()).producer.send({
            topic,
            acks: -1,
            messages: fresh.map(({ offset, ...message }) => message),
          });
          for (const { partition: at, baseOffset } of placed) {
            const end = Number(baseOffset) + fresh.length;
            const key = `${topic}/${at}`;
            produced.set(key, Math.max(produced.get(key) ?? 0, end));
          }
        } catch (error) {
          await disconnect();
          throw new HttpError(503, `Kafka did not take the records: ${error?.message ?? error}`);
        }
      }
      next.set(id, Math.max(from, end));
      return Math.max(from, end);
    });
    queues.set(id, run);
    try {
      return await run;
    } finally {
      if (queues.get(id) === run) queues.delete(id);
    }
  }

  /** "topic/partition" -> the end of what this relay produced there (Kafka's acknowledgement:
   * base offset + count). */
  const produced = new Map();

  /** The topic's partitions in Kafka with their high watermarks; [] while Kafka has none. A
   * broker that answers ListOffsets with the last offset rather than the next (Tansu does) is
   * corrected by what this relay saw Kafka acknowledge. */
  async function kafkaOffsets(topic) {
    if (typeof topic !== "string" || !/^[a-zA-Z0-9._-]{1,249}$/.test(topic)) {
      throw new HttpError(400, "status needs ?topic=<a topic name>");
    }
    try {
      const { admin } = await connected();
      if (!(await admin.listTopics()).includes(topic)) return [];
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets
        .map(({ partition, high }) => ({ partition, high: Math.max(Number(high), produced.get(`${topic}/${partition}`) ?? 0) }))
        .sort((a, b) => a.partition - b.partition);
    } catch (error) {
      // Not disconnected: uploads may be in flight on the same client; they see for themselves.
      throw new HttpError(503, `Kafka did not answer: ${error?.message ?? error}`);
    }
  }

  const server = createServer(async (request, response) => {
    const headers = {
      "access-control-allow-origin": allowOrigin,
      "access-control-allow-headers": "authorization, content-type",
      "access-control-allow-methods": "GET, POST, OPTIONS",
      "content-type": "application/json",
    };
    const answer = (status, body, extra = {}) => {
      response.writeHead(status, { ...headers, ...extra });
      response.end(JSON.stringify(body));
    };
    if (request.method === "OPTIONS") return answer(204, {});
    // A request target Node accepts may still not parse (an absolute URL with a bad port).
    let target;
    try {
      target = new URL(request.url ?? "/", "http://relay");
    } catch {
      return answer(400, { error: "a request target that is not a URL" });
    }
    const path = target.pathname;
    const status = request.method === "GET" && path === "/v1/status";
    if (!status && (request.method !== "POST" || path !== "/v1/produce")) return answer(404, { error: "POST /v1/produce or GET /v1/status" });
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
    if (!sameToken(bearer, token)) return answer(401, { error: "a wrong or missing token" });
    if (status) {
      try {
        return answer(200, { partitions: await kafkaOffsets(target.searchParams.get("topic")) });
      } catch (error) {
        return answer(error instanceof HttpError ? error.status : 500, { error: error?.message ?? String(error) });
      }
    }
    if (inFlight >= maxInFlight) {
      request.resume();
      return answer(429, { error: "too many uploads at once" }, { "retry-after": "1" });
    }
    inFlight++;
    try {
      const upload = readUpload(await readBody(request, maxBodyBytes));
      answer(200, { next: await produce(upload) });
    } catch (error) {
      answer(error instanceof HttpError ? error.status : 500, { error: error?.message ?? String(error) });
    } finally {
      inFlight--;
    }
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  return {
    port: address.port,
    url: `http://${host}:${address.port}`,
    async close() {
      await new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
      await disconnect();
    },
  };
}
