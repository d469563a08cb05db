/**
 * One real server session on a simulated clock, for the PROTOCOL.md specs:
 * frames go in as the decoder would hand them, and everything the session
 * writes is read back from its port as wire frames.
 */
import { createActor } from 'xstate';
import type { AgentEvent, ClientFrame, EventType, Sensitivity } from '../../machines/frames.ts';
import { Directory } from '../../machines/identity.ts';
import { DEFAULT_POLICY } from '../../machines/policy.ts';
import { ReplayLogStore, streamKey } from '../../machines/replay-log.ts';
import { serverSessionMachine, type SessionConfig, type SessionServices } from '../../machines/server-session.ts';
import { SimClock } from '../../sim/clock.ts';
import { Scheduler } from '../../sim/scheduler.ts';
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
  readonly port = new FakeSessionPort();
  readonly directory = new Directory();
  readonly logs: ReplayLogStore;
  /** Routing registrations: thread → subscribed. */
  readonly index = new Map<string, boolean>();
  readonly actor;

  constructor(options: SessionWorldOptions = {}) {
    this.logs = new ReplayLogStore(options.capacity ?? 100);
    this.directory.add(ADMIN, { tenant: TENANT, user: USER, role: 'admin', threads: ['t1', 't2'] });
    this.directory.add(VIEWER, { tenant: TENANT, user: USER, role: 'viewer', threads: '*' });
    const services: SessionServices = {
      epoch: options.epoch ?? 'e1',
      restarted: options.restarted ?? false,
      policy: DEFAULT_POLICY,
      authenticate: (token) => this.directory.authenticate(token),
      log: (tenant, user, thread) => this.logs.log(streamKey(tenant, user, thread)),
      index: (_tenant, _user, thread, _connId, on) => void this.index.set(thread, on),
    };
    this.actor = createActor(serverSessionMachine, {
      clock: new SimClock(this.scheduler),
      input: { connId: 'conn-1', port: this.port, services, ...(options.config ? { config: options.config } : {}) },
    }).start();
  }

  /** Run what is due now (a flush is scheduled at delay 0). */
  settle(): void {
    this.scheduler.runUntil(this.scheduler.now);
  }

  send(frame: ClientFrame): void {
    this.actor.send({ type: 'FRAME', frame });
    this.settle();
  }

  /** What the decoder hands the session for a message it refused. */
  sendGarbage(code = 'malformed_json'): void {
    this.actor.send({ type: 'BAD_FRAME', code, detail: 'garbage' });
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

  /** Append to a stream's log and notify the session, as the hub does. */
  publish(thread: string, n = 1, type: EventType = 'agent_thinking', sensitivity?: Sensitivity): AgentEvent[] {
    const log = this.logs.log(streamKey(TENANT, USER, thread));
    const out: AgentEvent[] = [];
    for (let i = 0; i < n; i++) out.push(log.append(producedEvent(TENANT, USER, thread, log.head, type, sensitivity)).event);
    this.actor.send({ type: 'NOTIFY', thread });
    this.settle();
    return out;
  }

  publishEvent(event: AgentEvent): void {
    this.logs.log(streamKey(TENANT, USER, event.thread)).append(event);
    this.actor.send({ type: 'NOTIFY', thread: event.thread });
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
    return this.actor.getSnapshot().status === 'done';
  }
}
