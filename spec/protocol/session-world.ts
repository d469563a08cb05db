/**
 * One server connection on a simulated clock, for the PROTOCOL.md specs: the
 * real hub behind the real server endpoint, with a fake link. Frames go in as
 * wire text (through the real decoder) and everything the server writes is
 * read back from the link as wire frames. Only the endpoint's and the hub's
 * public events are used, so the world does not depend on how the hub lends
 * its services to sessions.
 */
import { createActor } from 'xstate';
import type { AgentEvent, ClientFrame, EventType, Sensitivity } from '../../machines/frames.ts';
import { hubMachine, type SessionRef } from '../../machines/hub.ts';
import { Directory } from '../../machines/identity.ts';
import { encode } from '../../machines/protocol.ts';
import type { SessionConfig } from '../../machines/server-session.ts';
import { SimClock } from '../../sim/clock.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import type { Link, LinkHandler, SendResult } from '../../transport/link.ts';
import { createServerHandler, servingHub } from '../../transport/server-endpoint.ts';
import { FakeSessionPort, producedEvent } from '../machines/model-coverage.ts';

export const TENANT = 'acme';
export const USER = 'u1';
/** Tokens of the directory: an admin who may read t1 and t2, a viewer who may read every thread. */
export const ADMIN = 'tok-admin';
export const VIEWER = 'tok-viewer';

export interface SessionWorldOptions {
  config?: Partial<SessionConfig>;
  /** Replay log capacity per stream. */
  capacity?: number;
  epoch?: string;
  /** The server lost an earlier epoch's logs. */
  restarted?: boolean;
}

export class SessionWorld {
  readonly scheduler = new Scheduler();
  /** What the server wrote and how it closed (a recorder: `congested` makes sends report backpressure). */
  readonly port = new FakeSessionPort();
  readonly directory = new Directory();
  readonly hub;
  private readonly handler: LinkHandler;
  private readonly idx = new Map<string, number>();

  constructor(options: SessionWorldOptions = {}) {
    this.directory.add(ADMIN, { tenant: TENANT, user: USER, role: 'admin', threads: ['t1', 't2'] });
    this.directory.add(VIEWER, { tenant: TENANT, user: USER, role: 'viewer', threads: '*' });
    this.hub = createActor(servingHub(hubMachine), {
      clock: new SimClock(this.scheduler),
      input: {
        epoch: options.epoch ?? 'e1',
        restarted: options.restarted ?? false,
        directory: this.directory,
        logCapacity: options.capacity ?? 100,
        ...(options.config ? { sessionConfig: options.config } : {}),
      },
    }).start();
    const port = this.port;
    const link: Link = {
      id: 'link-1',
      send: (data): SendResult => {
        port.messages.push(data);
        return port.congested ? { ok: true, bufferedBytes: 1, backpressure: true } : { ok: true, bufferedBytes: 0 };
      },
      close: (code, reason) => void port.closes.push({ code, reason }),
      bufferedBytes: () => 0,
    };
    this.handler = createServerHandler({ hub: () => this.hub }).accept(link, { connId: 'conn-1', endpoint: `${TENANT}/${USER}/0`, token: ADMIN });
    this.handler.onOpen();
  }

  /** The one session of this world. */
  get session(): SessionRef {
    const [session] = this.hub.getSnapshot().context.sessions.values();
    if (!session) throw new Error('the session is gone');
    return session;
  }

  /** Run what is due now (a flush is scheduled at delay 0). */
  settle(): void {
    this.scheduler.runUntil(this.scheduler.now);
  }

  /** A message as wire text, through the server's decoder. */
  message(text: string): void {
    this.handler.onFrame(text);
    this.settle();
  }

  send(frame: ClientFrame): void {
    this.message(encode(frame));
  }

  /** The link's send buffer fell back under its cap. */
  drain(): void {
    this.handler.onDrain?.();
    this.settle();
  }

  hello(token = ADMIN): void {
    this.send({ v: 1, type: 'hello', token });
  }

  /** hello, then subscribe each thread from 1. */
  open(threads: string[] = ['t1'], token = ADMIN): void {
    this.hello(token);
    for (const thread of threads) this.send({ v: 1, type: 'subscribe', thread, from: 1 });
  }

  /** Publish n produced events on a thread in one publish, as a producer's array does (one flush carries them). */
  publish(thread: string, n = 1, type: EventType = 'agent_thinking', sensitivity?: Sensitivity): AgentEvent[] {
    const out: AgentEvent[] = [];
    for (let i = 0; i < n; i++) {
      const idx = this.idx.get(thread) ?? 0;
      this.idx.set(thread, idx + 1);
      out.push(producedEvent(TENANT, USER, thread, idx, type, sensitivity));
    }
    this.hub.send({ type: 'PUBLISH', events: out });
    this.settle();
    return out;
  }

  publishEvent(event: AgentEvent): void {
    this.idx.set(event.thread, event.idx + 1);
    this.hub.send({ type: 'PUBLISH', event });
    this.settle();
  }

  /** Messages written so far (a mark for `since`). */
  get mark(): number {
    return this.port.messages.length;
  }

  /** Event sequence numbers written since a mark. */
  seqs(since = 0, thread = 't1'): number[] {
    return this.port.events(since).filter((f) => f.thread === thread).map((f) => f.seq);
  }

  get done(): boolean {
    return this.hub.getSnapshot().context.sessions.size === 0;
  }
}
