/**
 * The store contract (machines/store.ts) on Redis Streams, for a cluster of
 * `wsim serve` nodes: I/O only. What each command does is in the Lua scripts
 * (redis-scripts.ts); this file moves commands to Redis and answers back to
 * the node's listener, and reports its link as up or down.
 *
 * Each link is two connections: one for commands, one subscribed to the
 * notification channel (a subscribed Redis connection can do nothing else).
 * The link is reported up only once a probe published on the command
 * connection came back on the subscriber: from then on no notice can be
 * missed, so a node that re-reads its heads on `link up` has seen everything.
 * Commands are not queued while Redis is away (`disableOfflineQueue`): they
 * fail at once, and the node decides whether to retry.
 */
import { randomUUID } from 'node:crypto';
import { createClient, type RedisClientType } from 'redis';
import type { AgentEvent } from '../machines/frames.ts';
import {
  appendKey,
  commandProblem,
  streamOf,
  type LogEntry,
  type Store,
  type StoreCommand,
  type StoreLink,
  type StoreListener,
  type StoreNotice,
  type StoreReply,
  type StreamName,
} from '../machines/store.ts';
import { APPEND_SCRIPT, EPOCH_SCRIPT, READ_SCRIPT } from './redis-scripts.ts';

export interface RedisStoreOptions {
  /** `redis://host:port[/db]`. */
  url: string;
  /** Entries kept per stream (MAXLEN). */
  capacity: number;
  /** Prefix of every key and of the channel, so deployments can share a Redis. Default `wsim`. */
  prefix?: string;
  /** A command not answered within this fails with `timeout`. Default 5,000 ms. */
  commandTimeoutMs?: number;
  /** Reconnect backoff: doubling from min to max. Default 50 → 2,000 ms. */
  reconnect?: { minMs: number; maxMs: number };
  /** Candidate epoch names (unguessable by default). */
  newEpoch?: () => string;
}

type Client = RedisClientType;

const PROBE_RETRY_MS = 200;

export class RedisStore implements Store {
  readonly capacity: number;
  private readonly prefix: string;
  private readonly newEpoch: () => string;

  constructor(private readonly options: RedisStoreOptions) {
    if (!(Number.isSafeInteger(options.capacity) && options.capacity >= 1)) throw new RangeError(`store capacity must be an integer >= 1, got ${options.capacity}`);
    this.capacity = options.capacity;
    this.prefix = options.prefix ?? 'wsim';
    this.newEpoch = options.newEpoch ?? randomUUID;
  }

  connect(node: string, listener: StoreListener): StoreLink {
    return new RedisLink(this, node, listener);
  }

  get channel(): string {
    return `${this.prefix}:notify`;
  }

  client(node: string): Client {
    const { minMs, maxMs } = this.options.reconnect ?? { minMs: 50, maxMs: 2000 };
    return createClient({
      url: this.options.url,
      name: `wsim-${node}`.replace(/[^\w.-]/g, '_'),
      disableOfflineQueue: true,
      commandOptions: { timeout: this.options.commandTimeoutMs ?? 5000 },
      socket: { reconnectStrategy: (retries: number) => Math.min(maxMs, minMs * 2 ** Math.min(retries, 16)) },
    }) as Client;
  }

  /** The eval arguments of a command: script, keys, arguments. */
  evalOf(command: StoreCommand): { script: string; keys: string[]; arguments: string[] } {
    const epochKey = `${this.prefix}:epoch`;
    const base = [this.newEpoch(), this.channel];
    if (command.kind === 'epoch') return { script: EPOCH_SCRIPT, keys: [epochKey], arguments: base };
    const stream = command.kind === 'append' ? streamOf(command.event) : command.stream;
    const keys = [epochKey, ...this.streamKeys(stream)];
    if (command.kind === 'read') return { script: READ_SCRIPT, keys, arguments: [...base, String(command.from), String(command.max)] };
    const event = command.event;
    return { script: APPEND_SCRIPT, keys, arguments: [...base, String(this.capacity), appendKey(event), JSON.stringify(event), JSON.stringify(stream)] };
  }

  private streamKeys(stream: StreamName): string[] {
    const name = [stream.tenant, stream.user, stream.thread].map(encodeURIComponent).join(':');
    return ['meta', 'log', 'ids'].map((part) => `${this.prefix}:s:${name}:${part}`);
  }
}

class RedisLink implements StoreLink {
  private readonly commands: Client;
  private readonly notices: Client;
  private open = true;
  private up = false;
  /** The probe that, once heard on the subscriber, proves notices flow. */
  private probe = '';
  private probing: NodeJS.Timeout | undefined;
  /** Replies are handed over in the order the commands were sent. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: RedisStore,
    node: string,
    private readonly listener: StoreListener,
  ) {
    this.commands = store.client(node);
    this.notices = store.client(`${node}-notices`);
    for (const client of [this.commands, this.notices]) {
      // an 'error' with no listener would crash the process: a lost Redis is a link fact
      client.on('error', () => this.down());
      client.on('reconnecting', () => this.down());
      client.on('end', () => this.down());
      client.on('ready', () => this.tryUp());
      client.connect().catch(() => this.down());
    }
    this.notices.subscribe(store.channel, (message) => this.heard(message)).then(() => this.tryUp(), () => this.down());
  }

  send(command: StoreCommand): void {
    if (!this.open) return;
    const problem = commandProblem(command);
    if (problem !== undefined) {
      this.answer(Promise.resolve({ kind: 'failed', req: command.req, reason: 'error', message: problem }));
      return;
    }
    const { script, keys, arguments: args } = this.store.evalOf(command);
    this.answer(this.commands.eval(script, { keys, arguments: args }).then((raw) => toReply(command, raw), (error: unknown) => failure(command, error)));
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    clearTimeout(this.probing);
    this.commands.destroy();
    this.notices.destroy();
  }

  /** Redis answers one connection in order; the chain keeps a refused command from overtaking them. */
  private answer(reply: Promise<StoreReply>): void {
    this.tail = this.tail.then(() => reply).then((r) => this.open && this.listener.reply(r));
  }

  private tryUp(): void {
    if (!this.open || this.up || this.probing || !this.commands.isReady || !this.notices.isReady) return;
    const probe = `probe:${randomUUID()}`;
    this.probe = probe;
    this.commands.publish(this.store.channel, JSON.stringify({ kind: 'probe', probe })).catch(() => this.down());
    // the subscription may not be live again yet after a reconnect: probe again until one is heard
    this.probing = setTimeout(() => {
      this.probing = undefined;
      this.tryUp();
    }, PROBE_RETRY_MS).unref();
  }

  private down(): void {
    this.probe = '';
    if (!this.open || !this.up) return;
    this.up = false;
    this.listener.notice({ kind: 'link', up: false });
    // the other connection may still be ready: it will say so again when this one is back
  }

  private heard(message: string): void {
    if (!this.open) return;
    const notice = parseNotice(message);
    if (notice === undefined) return;
    if (notice.kind === 'probe') {
      if (notice.probe !== this.probe || this.up) return;
      this.up = true;
      this.listener.notice({ kind: 'link', up: true });
      return;
    }
    if (this.up) this.listener.notice(notice);
  }
}

/** A Redis reply as the contract's reply; a malformed one (a foreign writer) is an error, never a throw. */
function toReply(command: StoreCommand, raw: unknown): StoreReply {
  try {
    if (command.kind === 'epoch') return { kind: 'epoch', req: command.req, epoch: String(raw) };
    const row = raw as unknown[];
    const epoch = String(row[0]);
    if (command.kind === 'append') {
      return { kind: 'appended', req: command.req, epoch, stream: streamOf(command.event), seq: Number(row[1]), duplicate: Number(row[2]) === 1 };
    }
    const entries = (row[3] as [string, string[]][]).map(toEntry);
    return { kind: 'read', req: command.req, epoch, stream: command.stream, start: Number(row[1]), head: Number(row[2]), entries };
  } catch (error) {
    return { kind: 'failed', req: command.req, reason: 'error', message: `malformed store reply: ${(error as Error).message}` };
  }
}

function toEntry([id, fields]: [string, string[]]): LogEntry {
  const at = fields.indexOf('e');
  if (at < 0 || at % 2 !== 0) throw new Error(`entry ${id} has no event`);
  return { seq: Number.parseInt(id, 10), event: JSON.parse(fields[at + 1]!) as AgentEvent };
}

function failure(command: StoreCommand, error: unknown): StoreReply {
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error ? error.name : '';
  const reason = /timeout/i.test(name + message) ? 'timeout' : /closed|offline|socket|connect/i.test(name + message) ? 'unavailable' : 'error';
  return { kind: 'failed', req: command.req, reason, message: message.split('\n')[0]! };
}

type ChannelMessage = Exclude<StoreNotice, { kind: 'link' }> | { kind: 'probe'; probe: string };

/** A message from the channel, or undefined when it is not one of ours. */
function parseNotice(message: string): ChannelMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  const v = value as Record<string, unknown>;
  if (v.kind === 'probe' && typeof v.probe === 'string') return { kind: 'probe', probe: v.probe };
  if (v.kind === 'epoch' && typeof v.epoch === 'string') return { kind: 'epoch', epoch: v.epoch };
  const s = v.stream as Record<string, unknown> | undefined;
  if (v.kind !== 'appended' || typeof v.epoch !== 'string' || !Number.isSafeInteger(v.seq) || !s) return undefined;
  if (typeof s.tenant !== 'string' || typeof s.user !== 'string' || typeof s.thread !== 'string') return undefined;
  return { kind: 'appended', stream: { tenant: s.tenant, user: s.user, thread: s.thread }, epoch: v.epoch, seq: v.seq as number };
}

/**
 * Whether Redis at `url` can hold the streams: it answers within `timeoutMs`,
 * and it never evicts keys (`maxmemory-policy noeviction`, where CONFIG is
 * allowed to say). One line when not (for `wsim serve --redis`).
 */
export async function checkRedis(url: string, timeoutMs = 2000): Promise<{ ok: true } | { ok: false; message: string }> {
  const client = createClient({ url, socket: { connectTimeout: timeoutMs, reconnectStrategy: false } });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    const policy = await evictionPolicy(client as Client);
    if (policy !== undefined && policy !== 'noeviction') {
      return { ok: false, message: `redis at ${url} has maxmemory-policy ${policy}: it may evict history; set it to noeviction` };
    }
    return { ok: true };
  } catch (error) {
    const text = error instanceof Error ? error.message || error.name : String(error);
    return { ok: false, message: `redis at ${url} is unreachable: ${text.split('\n')[0]}` };
  } finally {
    client.destroy();
  }
}

/** The eviction policy, or undefined where CONFIG is not allowed (managed services). */
async function evictionPolicy(client: Client): Promise<string | undefined> {
  try {
    const config = (await client.configGet('maxmemory-policy')) as Record<string, string>;
    return config['maxmemory-policy'];
  } catch {
    return undefined;
  }
}
