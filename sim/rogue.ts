/**
 * Rogue clients: a fault kind of the simulated world, like a partition. A
 * rogue holds a valid token of its own (a user `rogueN` of an honest tenant:
 * same tenant, colliding thread names) and sends whatever the wire allows.
 * Each kind is one attack of issue 10 or one like it; what the server must
 * answer is `ROGUE_EXPECTS` (an error code, or a close code).
 *
 * A rogue writes to the trace what it was refused, how it was closed and
 * whose events it received: the oracle (sim/rogue-checks.ts) judges from that.
 */
import type { AgentEvent } from '../machines/frames.ts';
import { payloadHash } from '../machines/hash.ts';
import type { Directory } from '../machines/identity.ts';
import { DEFAULT_LIMITS } from '../machines/limits.ts';
import { DEFAULT_MAX_MESSAGE_BYTES, decodeServerFrame, type ServerFrame } from '../machines/protocol.ts';
import type { Link, Transport } from '../transport/link.ts';
import type { RogueKind, RogueSpec } from './fault-plan.ts';
import type { Trace } from './trace.ts';

/** What the server must answer each kind with: an error frame's code, a close code, or nothing special. */
export const ROGUE_EXPECTS: Record<RogueKind, { error?: string; close?: number; /** Over real sockets `ws` may close first. */ orClose?: number } | null> = {
  forge_conn_id: null,
  token_mismatch: { close: 4403 },
  revoked_token: { close: 4401 },
  resume_foreign: { close: 4403 },
  name_bomb: { error: 'bad_field' },
  thread_flood: { error: 'limit_exceeded' },
  deep_nesting: { error: 'too_deep' },
  // above `maxPayload`, `ws` closes 1009 before the codec sees the frame
  oversized: { error: 'too_large', orClose: 1009 },
  idle_no_hello: { close: 4401 },
  garbage_keepalive: { close: 4000 },
  replay_storm: null,
  ping_flood: null,
};

/** Events a replay-storm rogue's own stream holds before it starts asking for them again and again. */
export const STORM_HISTORY = 100;

/** What a rogue needs of the world. */
export interface RogueHost {
  readonly trace: Trace;
  readonly transport: Transport;
  readonly directory: Directory;
  now(): number;
  after(ms: number, label: string, fn: () => void): void;
  /** An honest user the rogue knows the name, threads and (stolen) token of. */
  victim(index: number): { tenant: string; user: string; token: string; threads: readonly string[] };
  /** The server's ids of honest open connections right now (the attacker's best guess; worst case, it knows them). */
  sessionIds(): string[];
  /** Put events into the rogue's own stream (history a replay storm asks for). */
  publish(event: AgentEvent): void;
}

export const rogueUser = (index: number): string => `rogue${index}`;
export const rogueToken = (tenant: string, user: string): string => `tok:${tenant}:${user}`;

/** Frames a kind sends once it is welcomed (or, for some, right after the link opens). */
type Attack = (r: RogueRun) => void;

class RogueRun {
  link: Link | null = null;
  epoch = 'e1';
  welcomed = false;
  private left = false;
  private sent = 0;

  constructor(
    readonly host: RogueHost,
    readonly spec: RogueSpec,
    readonly id: string,
    readonly tenant: string,
    readonly user: string,
  ) {}

  get active(): boolean {
    return !this.left && this.link !== null && this.host.now() < this.spec.leaveAt;
  }

  record(event: 'start' | 'leave' | 'error' | 'close' | 'event', extra: { code?: string | number; owner?: string } = {}): void {
    this.host.trace.append({ t: this.host.now(), k: 'rogue', rogue: this.id, kind: this.spec.kind, tenant: this.tenant, user: this.user, event, ...extra });
  }

  send(text: string): void {
    if (this.active) {
      this.sent++;
      this.link!.send(text);
    }
  }

  /** `fn` every `ms` until the rogue leaves or has sent `max` frames in this loop. */
  every(ms: number, max: number, fn: (i: number) => void): void {
    let i = 0;
    const tick = () => {
      if (!this.active || i >= max) return;
      fn(i++);
      this.host.after(ms, `rogue ${this.spec.kind}`, tick);
    };
    tick();
  }

  connect(hint: string | undefined, token: string, onWelcome: Attack, hello: string | null): void {
    this.record('start');
    this.link = this.host.transport.connect(
      { connId: `${this.id}/0#1`, endpoint: `${this.tenant}/${this.user}/0`, token, ...(hint !== undefined ? { hint } : {}) },
      {
        // the network may lose a hello: say it again until the server answered
        onOpen: () => {
          if (hello !== null) this.every(300, 20, () => !this.welcomed && this.send(JSON.stringify({ v: 1, type: 'hello', token: hello })));
        },
        onFrame: (data) => this.hear(data, onWelcome),
        onClose: ({ code }) => {
          if (!this.left) this.record('close', { code });
          this.left = true;
        },
      },
    );
    this.host.after(this.spec.leaveAt - this.host.now(), 'rogue leaves', () => this.leave());
  }

  private hear(data: string, onWelcome: Attack): void {
    const decoded = decodeServerFrame(data);
    if (!decoded.ok) return;
    const frames: ServerFrame[] = decoded.frame.type === 'batch' ? decoded.frame.frames : [decoded.frame];
    for (const frame of frames) {
      // a lost welcome: a hello said again is answered not_authenticated by an open session
      const open = frame.type === 'welcome' || (frame.type === 'error' && frame.code === 'not_authenticated');
      if (open && !this.welcomed) {
        this.welcomed = true;
        if (frame.type === 'welcome') this.epoch = frame.epoch;
        onWelcome(this);
      }
      if (frame.type === 'error') this.record('error', { code: frame.code });
      else if (frame.type === 'event' && frame.event) this.record('event', { owner: `${frame.event.tenant}/${frame.event.user}` });
    }
  }

  private leave(): void {
    if (this.left) return;
    this.left = true;
    this.record('leave');
    this.link?.close(1000, 'rogue leaves');
  }
}

const frame = (o: object): string => JSON.stringify({ v: 1, ...o });
const deep = (depth: number): string => `{"v":1,"type":"ping","id":1,"x":${'['.repeat(depth)}${']'.repeat(depth)}}`;
// one oversized text, shared by every rogue that sends it (the decoder refuses it by its length)
let oversizedText: string | undefined;
const oversized = (): string => (oversizedText ??= `{"v":1,"type":"ping","id":1,"pad":"${'x'.repeat(DEFAULT_MAX_MESSAGE_BYTES)}"}`);

const ATTACKS: Record<RogueKind, Attack> = {
  // it connected under an honest session's id; now it subscribes to the victim's thread names, then drops
  forge_conn_id: (r) => {
    for (const thread of r.host.victim(0).threads) r.send(frame({ type: 'subscribe', thread, from: 1 }));
    r.every(50, 40, () => r.send(frame({ type: 'ack', acks: Object.fromEntries(r.host.victim(0).threads.map((t) => [t, 1_000])) })));
  },
  token_mismatch: () => {},
  revoked_token: () => {},
  resume_foreign: (r) => r.every(300, 20, () => r.send(frame({ type: 'resume', epoch: r.epoch, positions: Object.fromEntries(r.host.victim(0).threads.map((t) => [t, 1])) }))),
  name_bomb: (r) => r.every(20, 30, (i) => r.send(frame({ type: 'subscribe', thread: 'n'.repeat(DEFAULT_LIMITS.maxThreadNameChars + 1 + i * 2048), from: 1 }))),
  // first past the streams per session, then (unsubscribing as it goes) past the logs per user
  thread_flood: (r) =>
    r.every(2, 400, (i) => {
      r.send(frame({ type: 'subscribe', thread: `flood${i}`, from: 1 }));
      if (i >= 100) r.send(frame({ type: 'unsubscribe', thread: `flood${i}` }));
      if (i === 99) for (let k = 0; k < 100; k++) r.send(frame({ type: 'unsubscribe', thread: `flood${k}` }));
    }),
  deep_nesting: (r) => r.every(10, 20, () => r.send(deep(20_000))),
  oversized: (r) => r.every(500, 2, () => r.send(oversized())),
  idle_no_hello: () => {},
  garbage_keepalive: (r) => r.every(200, 1_000, () => r.send('{"v":1,"type":"ping",garbage')),
  // subscribe from 1, again and again, and never ack: without a budget each one re-sends the whole window
  replay_storm: (r) => r.every(10, 150, () => r.send(frame({ type: 'subscribe', thread: 'storm', from: 1 }))),
  ping_flood: (r) => r.every(4, 1_500, (i) => r.send(frame({ type: 'ping', id: i }))),
};

/** Start the `index`-th rogue of the plan. */
export function startRogue(host: RogueHost, spec: RogueSpec, index: number): void {
  // a forger needs an honest session to impersonate: it waits for one (bounded by its stay)
  if (spec.kind === 'forge_conn_id' && host.sessionIds().length === 0 && host.now() + 100 < spec.leaveAt) {
    host.after(100, 'rogue waits for a victim', () => startRogue(host, spec, index));
    return;
  }
  const victim = host.victim(index);
  const tenant = victim.tenant;
  const user = rogueUser(index);
  const token = rogueToken(tenant, user);
  host.directory.add(token, { tenant, user, role: 'admin', threads: spec.kind === 'resume_foreign' ? ['own'] : '*' });
  const run = new RogueRun(host, spec, `${tenant}/${user}`, tenant, user);
  const attack = ATTACKS[spec.kind];
  let hello: string | null = token;
  // it asks to be called by an honest session's id (as `?conn=` allowed)
  const hint = spec.kind === 'forge_conn_id' ? host.sessionIds()[index % Math.max(1, host.sessionIds().length)] : undefined;
  if (spec.kind === 'token_mismatch') hello = victim.token;
  if (spec.kind === 'idle_no_hello') hello = null;
  if (spec.kind === 'revoked_token') {
    hello = `${token}:revoked`;
    host.directory.add(hello, { tenant, user, role: 'admin', threads: '*' });
    host.directory.revoke(hello);
  }
  if (spec.kind === 'replay_storm') {
    for (let idx = 0; idx < STORM_HISTORY; idx++) {
      const payload = `storm ${idx}`;
      // critical events: thinking would be coalesced, and the storm would cost nothing to refuse
      const type = idx % 2 === 0 ? 'tool_executing' : 'tool_completed';
      host.publish({ tenant, user, thread: 'storm', run: `${user}-storm`, idx, type, toolId: `t${idx >> 1}`, sensitivity: 'public', payload, hash: payloadHash(payload) });
    }
  }
  // the upgrade is admitted with the rogue's own token; only `hello` may differ
  run.connect(hint, token, attack, hello);
}
