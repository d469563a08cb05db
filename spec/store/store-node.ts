/**
 * A node as the contract suite sees it: one link to the store under test, with
 * every reply and notice recorded, and small awaitable helpers (specs may
 * await; machines may not). The harness decides how time passes.
 */
import { expect } from 'chai';
import type { AgentEvent } from '../../machines/frames.ts';
import { payloadHash } from '../../machines/hash.ts';
import { sameStream } from '../../machines/store.ts';
import type {
  AppendedReply,
  ReadReply,
  RequestId,
  Store,
  StoreCommand,
  StoreLink,
  StoreListener,
  StoreNotice,
  StoreReply,
  StreamName,
} from '../../machines/store.ts';

/** How a contract check drives a store: the store, and how to let its world run. */
export interface StoreHarness {
  store: Store;
  /** Let time pass until `done()` holds; throws one line naming `what` past a bound. */
  until(done: () => boolean, what: string): Promise<void>;
  /** The store loses every byte (a restart without persistence, or a flush). */
  loseData(): Promise<void>;
  /** True when losing data also breaks every link (a process restart) and nodes see it. */
  readonly lossBreaksLinks: boolean;
  /** Break every link and let it come back, keeping the data; absent where links cannot break. */
  dropLinks?(): Promise<void>;
  close(): Promise<void>;
}

/** Makes a fresh store (and its world) keeping `capacity` entries per stream. */
export type HarnessFactory = (capacity: number) => Promise<StoreHarness>;

type Unnumbered<C> = C extends StoreCommand ? Omit<C, 'req'> : never;

export class TestNode implements StoreListener {
  readonly replies = new Map<RequestId, StoreReply>();
  /** Request ids in the order their replies came. */
  readonly order: RequestId[] = [];
  /** Replies for a request that already had one (must stay 0). */
  extraReplies = 0;
  /** Calls of the listener from inside `send` (must stay 0: no re-entrance into the sender). */
  reentrant = 0;
  private sending = false;
  readonly notices: StoreNotice[] = [];
  up = false;
  /** Times the link went down. */
  downs = 0;
  private next = 1;
  private readonly link: StoreLink;

  constructor(
    readonly name: string,
    private readonly harness: StoreHarness,
  ) {
    this.link = harness.store.connect(name, this);
  }

  reply(reply: StoreReply): void {
    if (this.sending) this.reentrant++;
    if (this.replies.has(reply.req)) this.extraReplies++;
    this.replies.set(reply.req, reply);
    this.order.push(reply.req);
  }

  notice(notice: StoreNotice): void {
    if (this.sending) this.reentrant++;
    this.notices.push(notice);
    if (notice.kind !== 'link') return;
    if (this.up && !notice.up) this.downs++;
    this.up = notice.up;
  }

  send(command: Unnumbered<StoreCommand>): RequestId {
    const req = this.next++;
    this.sending = true;
    try {
      this.link.send({ ...command, req } as StoreCommand);
    } finally {
      this.sending = false;
    }
    return req;
  }

  async answer(req: RequestId): Promise<StoreReply> {
    await this.harness.until(() => this.replies.has(req), `${this.name}: reply to request ${req}`);
    return this.replies.get(req)!;
  }

  async ask(command: Unnumbered<StoreCommand>): Promise<StoreReply> {
    return this.answer(this.send(command));
  }

  /** What a real node does: wait for the link, retry while the store is unreachable. */
  async served(command: Unnumbered<StoreCommand>): Promise<StoreReply> {
    for (let attempt = 0; attempt < 50; attempt++) {
      await this.ready();
      const reply = await this.ask(command);
      if (reply.kind !== 'failed' || reply.reason === 'error') return reply;
    }
    throw new Error(`${this.name}: ${command.kind} never served`);
  }

  async ready(): Promise<void> {
    await this.harness.until(() => this.up, `${this.name}: link up`);
  }

  async append(event: AgentEvent): Promise<AppendedReply> {
    return expectKind(await this.served({ kind: 'append', event }), 'appended');
  }

  async read(stream: StreamName, from: number, max: number): Promise<ReadReply> {
    return expectKind(await this.served({ kind: 'read', stream, from, max }), 'read');
  }

  async epoch(): Promise<string> {
    return expectKind(await this.served({ kind: 'epoch' }), 'epoch').epoch;
  }

  appendNotices(stream: StreamName): number[] {
    return this.notices.flatMap((n) => (n.kind === 'appended' && sameStream(n.stream, stream) ? [n.seq] : []));
  }

  close(): void {
    this.link.close();
  }
}

export function expectKind<K extends StoreReply['kind']>(reply: StoreReply, kind: K): Extract<StoreReply, { kind: K }> {
  expect(reply.kind, `expected a ${kind} reply, got ${JSON.stringify(reply)}`).to.equal(kind);
  return reply as Extract<StoreReply, { kind: K }>;
}

/** An event of `stream`, identified by (run, idx). */
export function eventOf(stream: StreamName, run: string, idx: number, payload = `${run}#${idx}`): AgentEvent {
  return { ...stream, run, idx, type: 'agent_thinking', sensitivity: 'public', payload, hash: payloadHash(payload) };
}
