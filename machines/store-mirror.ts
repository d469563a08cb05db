/**
 * One node's view of the store: the link's listener, and a local mirror of
 * each stream the node serves, so its sessions read synchronously (start,
 * head, get) while the history lives in the store, shared by every node.
 *
 * What it decides (the integration's hub only wires it):
 * - a stream is fetched when the node learns of entries it does not hold (an
 *   `appended` notice, its own append's reply, a read's head), one read in
 *   flight per stream, in pages, until caught up;
 * - its own appends go into the mirror at once (no read round trip), but only
 *   when they are the next seq and not a duplicate (a duplicate's content is
 *   the first writer's, which this node may not have);
 * - when the link comes back up, notices may have been missed: it asks the
 *   epoch and re-reads every mirrored stream from its head;
 * - an epoch other than the one it knows means the store lost its data: every
 *   mirror is emptied and reloaded from 1, and `epochChanged` tells the node
 *   so that every session resyncs with `epoch_changed`.
 *
 * No timers and no promises: it acts on callbacks only, so it runs the same
 * on the simulated broker as on Redis.
 */
import type { AgentEvent } from './frames.ts';
import { ReplayLog, streamKey } from './replay-log.ts';
import type {
  AppendCommand,
  AppendedReply,
  EpochCommand,
  FailedReply,
  ReadCommand,
  ReadReply,
  RequestId,
  Store,
  StoreLink,
  StoreNotice,
  StoreReply,
  StreamName,
} from './store.ts';

export interface MirrorEvents {
  /** The stream can be served: its window as the store had it when opened is held. */
  loaded(key: string, stream: StreamName): void;
  /** Entries were added to the stream's mirror: wake its sessions. */
  grew(key: string, stream: StreamName): void;
  /** The store's epoch was heard for the first time: the node can answer clients now. */
  known?(epoch: string): void;
  /** The store lost its data (`previous` was its epoch): every position held by a client is void. */
  epochChanged(epoch: string, previous: string): void;
  /** The link to the store went down or came back. */
  link(up: boolean): void;
}

export type AppendDone = (reply: AppendedReply | FailedReply) => void;

interface Mirrored {
  stream: StreamName;
  log: ReplayLog;
  /** Highest seq the node knows the store holds. */
  wanted: number;
  /** The one read this mirror waits for (an answer to any other is stale). */
  reading: RequestId | undefined;
  loaded: boolean;
  /** Subscribers that opened it (released at 0). */
  users: number;
}

/** Entries asked per read. */
const PAGE = 256;

export class StoreMirror {
  private readonly link: StoreLink;
  private readonly capacity: number;
  private readonly streams = new Map<string, Mirrored>();
  private readonly appends = new Map<RequestId, { event: AgentEvent; done: AppendDone }>();
  /** Read request → the stream key it was for. */
  private readonly reads = new Map<RequestId, string>();
  private next = 1;
  private known: string | undefined;
  /** Epochs the store has left: anything still arriving from one of them is stale. */
  private readonly retired = new Set<string>();
  up = false;

  constructor(
    store: Store,
    node: string,
    private readonly events: MirrorEvents,
  ) {
    this.capacity = store.capacity;
    this.link = store.connect(node, { reply: (r) => this.reply(r), notice: (n) => this.notice(n) });
  }

  /** The store's epoch as last heard (undefined until the first answer). */
  get epoch(): string | undefined {
    return this.known;
  }

  /** Append through the store; `done` gets the seq, or the failure (the caller may retry: appends are idempotent). */
  publish(event: AgentEvent, done: AppendDone): void {
    this.appends.set(this.send({ kind: 'append', event }), { event, done });
  }

  /** Start (or keep) mirroring a stream; `loaded` fires once it can be served. */
  open(stream: StreamName): ReplayLog {
    const key = keyOf(stream);
    let mirrored = this.streams.get(key);
    if (!mirrored) {
      mirrored = { stream, log: new ReplayLog(this.capacity), wanted: 0, reading: undefined, loaded: false, users: 0 };
      this.streams.set(key, mirrored);
      this.fetch(key, mirrored, true);
    }
    mirrored.users++;
    return mirrored.log;
  }

  /** A subscriber left; the last one frees the mirror. */
  release(stream: StreamName): void {
    const key = keyOf(stream);
    const mirrored = this.streams.get(key);
    if (mirrored && --mirrored.users <= 0) this.streams.delete(key);
  }

  /**
   * Ask again for every stream that is behind and has no read under way. A
   * read that failed while the link stayed up (a timeout) is otherwise retried
   * only by the next notice, which a quiet stream never gets: the node calls
   * this on a timer of its own (the world's clock, like every delay).
   */
  refresh(): void {
    for (const [key, mirrored] of this.streams) {
      if (mirrored.reading === undefined && (!mirrored.loaded || mirrored.log.head < mirrored.wanted)) this.fetch(key, mirrored, true);
    }
  }

  isLoaded(key: string): boolean {
    return this.streams.get(key)?.loaded ?? false;
  }

  log(key: string): ReplayLog | undefined {
    return this.streams.get(key)?.log;
  }

  close(): void {
    this.link.close();
  }

  private send(command: Omit<AppendCommand, 'req'> | Omit<ReadCommand, 'req'> | Omit<EpochCommand, 'req'>): RequestId {
    const req = this.next++;
    this.link.send({ ...command, req });
    return req;
  }

  /** Ask for what the mirror lacks, one read at a time per stream (`force`: ask even if nothing is known to lack). */
  private fetch(key: string, mirrored: Mirrored, force = false): void {
    if (!this.up || (mirrored.reading !== undefined && !force) || (!force && mirrored.wanted <= mirrored.log.head)) return;
    const req = this.send({ kind: 'read', stream: mirrored.stream, from: mirrored.log.head + 1, max: PAGE });
    mirrored.reading = req;
    this.reads.set(req, key);
  }

  private reply(reply: StoreReply): void {
    const append = this.appends.get(reply.req);
    if (append) {
      this.appends.delete(reply.req);
      if (reply.kind === 'appended') this.appended(reply, append.event);
      append.done(reply as AppendedReply | FailedReply);
      return;
    }
    const key = this.reads.get(reply.req);
    this.reads.delete(reply.req);
    if (reply.kind === 'epoch') this.heard(reply.epoch);
    else if (key !== undefined) this.readDone(key, reply);
  }

  /** Its own append: held at once when it is the next seq (a duplicate's content is the first writer's: read it). */
  private appended(reply: AppendedReply, event: AgentEvent): void {
    if (!this.heard(reply.epoch)) return;
    const key = keyOf(reply.stream);
    const mirrored = this.streams.get(key);
    if (!mirrored) return;
    if (!reply.duplicate && reply.seq === mirrored.log.head + 1 && mirrored.loaded && mirrored.log.put(reply.seq, event)) this.events.grew(key, mirrored.stream);
    this.want(key, mirrored, reply.seq);
  }

  private readDone(key: string, reply: StoreReply): void {
    const mirrored = this.streams.get(key);
    if (!mirrored || mirrored.reading !== reply.req) return;
    mirrored.reading = undefined;
    // failed: the next notice or link-up asks again
    if (reply.kind === 'read' && this.heard(reply.epoch)) this.fill(key, mirrored, reply);
  }

  private fill(key: string, mirrored: Mirrored, reply: ReadReply): void {
    mirrored.wanted = Math.max(mirrored.wanted, reply.head);
    // past a gap (the store capped what this mirror had not read yet) `put` continues at the
    // store's start, and sessions behind it get a beyond_window resync from the log's start
    let grew = false;
    for (const entry of reply.entries) grew = mirrored.log.put(entry.seq, entry.event) || grew;
    if (mirrored.log.head < mirrored.wanted) return this.fetch(key, mirrored);
    if (!mirrored.loaded) {
      mirrored.loaded = true;
      this.events.loaded(key, mirrored.stream);
    } else if (grew) this.events.grew(key, mirrored.stream);
  }

  private want(key: string, mirrored: Mirrored, seq: number): void {
    mirrored.wanted = Math.max(mirrored.wanted, seq);
    this.fetch(key, mirrored);
  }

  private notice(notice: StoreNotice): void {
    if (notice.kind === 'link') return this.linkChanged(notice.up);
    if (!this.heard(notice.epoch) || notice.kind === 'epoch') return;
    const key = keyOf(notice.stream);
    const mirrored = this.streams.get(key);
    if (mirrored) this.want(key, mirrored, notice.seq);
  }

  private linkChanged(up: boolean): void {
    this.up = up;
    this.events.link(up);
    if (!up) return;
    this.send({ kind: 'epoch' });
    // notices may have been missed while down: every mirror asks from its head
    for (const [key, mirrored] of this.streams) this.fetch(key, mirrored, true);
  }

  /**
   * Note the epoch an answer carries; false when it is not the current one:
   * stale (from an epoch already left), or new (the store lost its data:
   * every mirror is emptied and reloaded, and the node is told).
   */
  private heard(epoch: string): boolean {
    if (this.retired.has(epoch)) return false;
    const previous = this.known;
    this.known = epoch;
    if (previous === undefined) this.events.known?.(epoch);
    if (previous === undefined || previous === epoch) return true;
    this.retired.add(previous);
    for (const [key, mirrored] of this.streams) {
      mirrored.log.restartAt(1);
      mirrored.wanted = 0;
      this.fetch(key, mirrored, true);
    }
    this.events.epochChanged(epoch, previous);
    return false;
  }
}

const keyOf = (stream: StreamName): string => streamKey(stream.tenant, stream.user, stream.thread);
