#!/usr/bin/env node
// `brook relay --brokers host:port[,host:port] [--port 8787] [--host 127.0.0.1]
//   [--max-body-bytes N] [--max-in-flight N] [--allow-origin ORIGIN]`, the token in the
// environment (BROOK_RELAY_TOKEN, at least 16 characters): the relay of js/relay.js.

import { startRelay } from "./relay.js";

const USAGE = "usage: BROOK_RELAY_TOKEN=<secret> brook relay --brokers host:port[,host:port] [--port 8787] [--host 127.0.0.1] [--max-body-bytes N] [--max-in-flight N] [--allow-origin ORIGIN]";

function parse(args) {
  const [command, ...rest] = args;
  if (command !== "relay") throw new Error(USAGE);
  const flags = {};
  for (let i = 0; i < rest.length; i += 2) {
    const name = rest[i];
    const value = rest[i + 1];
    if (!name?.startsWith("--") || value === undefined) throw new Error(USAGE);
    flags[name.slice(2)] = value;
  }
  const known = ["brokers", "port", "host", "max-body-bytes", "max-in-flight", "allow-origin"];
  for (const name of Object.keys(flags)) if (!known.includes(name)) throw new Error(`unknown flag --${name}\n${USAGE}`);
  if (!flags.brokers) throw new Error(USAGE);
  const number = (name) => (flags[name] === undefined ? undefined : Number(flags[name]));
  return {
    kafka: { brokers: flags.brokers.split(","), clientId: "brook-relay" },
    token: process.env.BROOK_RELAY_TOKEN,
    host: flags.host,
    port: number("port"),
    maxBodyBytes: number("max-body-bytes"),
    maxInFlight: number("max-in-flight"),
    allowOrigin: flags["allow-origin"],
  };
}

try {
  const options = parse(process.argv.slice(2));
  for (const name of Object.keys(options)) if (options[name] === undefined) delete options[name];
  const relay = await startRelay(options);
  process.stdout.write(`brook relay: listening on ${relay.url} (POST /v1/produce)\n`);
  const stop = async () => {
    await relay.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
} catch (error) {
  process.stderr.write(`brook: ${error.message}\n`);
  process.exit(2);
}
