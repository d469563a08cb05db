/**
 * The embedded store (the default: one process, no Redis) and the data both it
 * and the simulated broker keep. `StoreData` runs one command at a time,
 * synchronously, so a command is atomic by construction, as a Redis script is;
 * the stores around it only decide when the answers are delivered.
 */
import type { AgentEvent } from './frames.ts';
import { ReplayLog, streamKey } from './replay-log.ts';
import {
  appendKey,
  commandProblem,
  streamOf,
  type AppendCommand,
  type ReadCommand,
  type Store,
  type StoreCommand,
  type StoreLink,
  type StoreListener,
  type StoreNotice,
  type StoreReply,
} from './store.ts';

interface StreamData {
  log: ReplayLog;
  /** (run, idx) → seq for the entries the log still holds, oldest first (Map keeps insertion order). */
  ids: Map<string, number>;
}

/** What one command did: its reply, and the notices every connected node must get. */
export interface Executed {
  reply: StoreReply;
  notices: StoreNotice[];
}

export class StoreData {
  private epoch: string | undefined;
  private streams = new Map<string, StreamData>();

  constructor(
    readonly capacity: number,
    /** A fresh epoch name (the world's PRNG in simulation, crypto in a deployment). */
    private readonly newEpoch: () => string,
  ) {
    if (!(capacity >= 1)) throw new RangeError(`store capacity must be >= 1, got ${capacity}`);
  }

  execute(command: StoreCommand): Executed {
    const problem = commandProblem(command);
    if (problem !== undefined) return { reply: { kind: 'failed', req: command.req, reason: 'error', message: problem }, notices: [] };
    const notices: StoreNotice[] = [];
    const epoch = this.current(notices);
    if (command.kind === 'append') return { reply: this.append(command, epoch, notices), notices };
    if (command.kind === 'read') return { reply: this.read(command, epoch), notices };
    return { reply: { kind: 'epoch', req: command.req, epoch }, notices };
  }

  /** Everything is lost, the epoch included (a restart without persistence). */
  wipe(): void {
    this.epoch = undefined;
    this.streams.clear();
  }

  /** The epoch, created (and announced) when the store has none. */
  private current(notices: StoreNotice[]): string {
    if (this.epoch === undefined) {
      this.epoch = this.newEpoch();
      notices.push({ kind: 'epoch', epoch: this.epoch });
    }
    return this.epoch;
  }

  private append(command: AppendCommand, epoch: string, notices: StoreNotice[]): StoreReply {
    const event = command.event;
    const stream = this.stream(event);
    const key = appendKey(event);
    const known = stream.ids.get(key);
    const base = { kind: 'appended', req: command.req, epoch, stream: streamOf(event) } as const;
    if (known !== undefined) return { ...base, seq: known, duplicate: true };
    const { seq } = stream.log.append(event);
    stream.ids.set(key, seq);
    forgetCapped(stream);
    notices.push({ kind: 'appended', stream: streamOf(event), epoch, seq });
    return { ...base, seq, duplicate: false };
  }

  private read(command: ReadCommand, epoch: string): StoreReply {
    const { tenant, user, thread } = command.stream;
    const log = this.streams.get(streamKey(tenant, user, thread))?.log;
    const start = log?.start ?? 1;
    const head = log?.head ?? 0;
    const entries = [];
    const last = Math.min(head, Math.max(command.from, start) + command.max - 1);
    for (let seq = Math.max(command.from, start); log && seq <= last; seq++) entries.push(log.get(seq)!);
    return { kind: 'read', req: command.req, epoch, stream: command.stream, start, head, entries };
  }

  private stream(event: AgentEvent): StreamData {
    const key = streamKey(event.tenant, event.user, event.thread);
    let stream = this.streams.get(key);
    if (!stream) {
      stream = { log: new ReplayLog(this.capacity), ids: new Map() };
      this.streams.set(key, stream);
    }
    return stream;
  }
}

/** Idempotency lasts as long as the window: ids of capped entries go (oldest first, so this stops early). */
function forgetCapped(stream: StreamData): void {
  for (const [key, seq] of stream.ids) {
    if (seq >= stream.log.start) return;
    stream.ids.delete(key);
  }
}

export interface MemoryStoreOptions {
  capacity: number;
  newEpoch: () => string;
  /**
   * Runs a callback later, in order (the world's scheduler in simulation,
   * `setImmediate` in a process): replies never re-enter the sender.
   */
  defer: (fn: () => void) => void;
}

interface MemoryLink {
  listener: StoreListener;
  open: boolean;
}

/** The embedded store: every command runs at once; its answers come on the owner's next turn. */
export class MemoryStore implements Store {
  readonly capacity: number;
  private readonly data: StoreData;
  private readonly links = new Set<MemoryLink>();

  constructor(private readonly options: MemoryStoreOptions) {
    this.capacity = options.capacity;
    this.data = new StoreData(options.capacity, options.newEpoch);
  }

  connect(_node: string, listener: StoreListener): StoreLink {
    const link: MemoryLink = { listener, open: true };
    this.links.add(link);
    this.options.defer(() => link.open && listener.notice({ kind: 'link', up: true }));
    return {
      send: (command) => this.run(link, command),
      close: () => {
        link.open = false;
        this.links.delete(link);
      },
    };
  }

  /** Lose everything, as a restarted process does: the next command starts a new epoch. */
  wipe(): void {
    this.data.wipe();
  }

  private run(link: MemoryLink, command: StoreCommand): void {
    if (!link.open) return;
    const { reply, notices } = this.data.execute(command);
    const others = [...this.links];
    this.options.defer(() => {
      if (link.open) link.listener.reply(reply);
      for (const notice of notices) for (const other of others) if (other.open) other.listener.notice(notice);
    });
  }
}
