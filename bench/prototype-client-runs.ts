/**
 * PROTOTYPE, not wired into the package: what the client costs per event when
 * a batch frame's in-order events are one machine event (`frame.events`)
 * instead of one each, measured on the real client machine.
 *
 * Over real sockets the client machine is about half of wsim's CPU per event
 * (profile of the ws burst, 2026-11-30): every event of a batch is its own
 * macrostep (frame.event → deliver → app.delivered → ACK_DUE: four microsteps,
 * each paying XState's walk over the four parallel regions of `open`). The
 * proposal, for machines/client-connection.ts and the endpoint:
 *
 * - the inbox hands a message's consecutive event frames as one
 *   `frame.events` (other frames as today);
 * - `open` takes `frame.events` with one action: when the run is the plain
 *   case (the next sequences of a confirmed stream, nothing held, nothing with
 *   the app, no resync, no coalescing) the whole run is held and handed to
 *   the app with one I/O action `deliverRun`, whose answer is one raised
 *   `app.run` {thread, from, delivered, failure?}; any other run is raised
 *   frame by frame into today's path (same macrostep, same rules);
 * - `app.run` moves the cursor past what the app took, raises ACK_DUE once,
 *   and turns a failure into today's `app.failed` for the frame it failed
 *   on (the rest stays held: today's retry path hands it on one at a time).
 *
 * The app sees the same events in the same order; acks stay cumulative. The
 * machine here is derived from the real one's config (the two transitions
 * above added to `open`), so it measures exactly that change.
 */
import { createMachine, enqueueActions, type AnyActorRef } from 'xstate';
import { clientConnectionMachine, type ClientConnectionMachine, type ClientContext, type ClientEvent } from '../machines/client-connection.ts';
import { ClientInbox, type InboxEvent } from '../machines/client-inbox.ts';
import type { ClientFrame, EventFrame } from '../machines/frames.ts';
import { encode } from '../machines/protocol.ts';
import { settle, type DeliverResult, type StreamCursor } from '../machines/stream-cursor.ts';
import { SimClock } from '../sim/clock.ts';
import { Scheduler } from '../sim/scheduler.ts';
import { createPortActor, type ClientActor, type ClientPort } from '../transport/client-endpoint.ts';
import { criticalEvent } from './workload.ts';
import type { ClientVariant } from './ws.ts';

type RunAnswer = { type: 'app.run'; thread: string; from: number; delivered: number; failure?: string };
type RunEvent = { type: 'frame.events'; frames: EventFrame[] } | RunAnswer;

/** A port that counts what the app got (the app answers ok). */
class CountingPort implements ClientPort {
  delivered = 0;
  connect(): void {}
  send(_frame: ClientFrame): void {}
  close(): void {}
  deliver(): DeliverResult {
    this.delivered++;
    return { ok: true };
  }
  appFailed(): void {}
  deadLetter(): void {}
  resync(): void {}
  rejected(): void {}
}

/** Who the prototype's deliverRun hands events to, by actor (the endpoint's own wiring is private to it). */
const ports = new WeakMap<AnyActorRef, Pick<ClientPort, 'deliver'>>();

/** The plain case: the run continues a confirmed stream that holds nothing and waits for no answer. */
function plainRun(context: ClientContext, frames: EventFrame[]): StreamCursor | undefined {
  const thread = frames[0]!.thread;
  const cursor = context.streams[thread];
  if (!cursor || !context.threads.includes(thread) || !cursor.confirmed || cursor.heldCount > 0 || cursor.withApp) return undefined;
  const plain = frames.every((f, i) => f.thread === thread && f.seq === cursor.next + i && f.event && f.through === undefined && !f.resync && (f.epoch === undefined || f.epoch === cursor.epoch));
  return plain ? cursor : undefined;
}

const acceptRun = enqueueActions(({ context, event, enqueue }: { context: ClientContext; event: RunEvent; enqueue: any }) => {
  if (event.type !== 'frame.events') return;
  const cursor = plainRun(context, event.frames);
  if (!cursor) {
    for (const frame of event.frames) enqueue.raise({ type: 'frame.event', frame });
    return;
  }
  if (!context.heard) enqueue.raise({ type: 'HEARD' });
  const held: Record<number, EventFrame> = {};
  for (const f of event.frames) held[f.seq] = f;
  const seenEpoch = event.frames.at(-1)!.epoch ?? cursor.seenEpoch;
  enqueue.assign({ heard: true, streams: { ...context.streams, [cursor.thread]: { ...cursor, seenEpoch, held, heldCount: event.frames.length, withApp: true } } });
  enqueue({ type: 'deliverRun', params: { frames: event.frames } });
});

const deliverRun = enqueueActions(({ self, enqueue }: { self: AnyActorRef; enqueue: any }, { frames }: { frames: EventFrame[] }) => {
  const port = ports.get(self)!;
  let delivered = 0;
  let failure: string | undefined;
  for (const f of frames) {
    const answer = port.deliver(f.thread, f.seq, f.event!);
    if (!answer.ok) {
      failure = answer.message;
      break;
    }
    delivered++;
  }
  enqueue.raise({ type: 'app.run', thread: frames[0]!.thread, from: frames[0]!.seq, delivered, ...(failure !== undefined ? { failure } : {}) });
});

const takeRun = enqueueActions(({ context, event, enqueue }: { context: ClientContext; event: RunEvent; enqueue: any }) => {
  if (event.type !== 'app.run') return;
  const before = context.streams[event.thread]!;
  const next = event.from + event.delivered;
  const held: Record<number, EventFrame> = {};
  let heldCount = 0;
  for (const [key, frame] of Object.entries(before.held)) {
    if (Number(key) < next) continue;
    held[Number(key)] = frame;
    heldCount++;
  }
  const failed = event.failure !== undefined;
  const settled = failed ? { cursor: { ...before, next, held, heldCount, failures: 0, withApp: true }, head: undefined } : settle({ ...before, next, held, heldCount, failures: 0, withApp: false });
  enqueue.assign({ streams: { ...context.streams, [event.thread]: settled.cursor } });
  // a failure is today's app.failed on the frame it failed on: same retries, same dead letter
  if (failed) enqueue.raise({ type: 'app.failed', thread: event.thread, seq: next, message: event.failure });
  if (settled.head) enqueue({ type: 'deliver', params: { thread: settled.head.thread, seq: settled.head.seq, event: settled.head.event! } });
  enqueue.raise({ type: 'ACK_DUE' });
});

/** The real client machine with `frame.events` and `app.run` added to `open`. */
export function runsMachine(): ClientConnectionMachine {
  const base = clientConnectionMachine;
  const config = base.config as any;
  const open = config.states.open;
  const machine = createMachine(
    { ...config, states: { ...config.states, open: { ...open, on: { ...open.on, 'frame.events': { actions: 'acceptRun' }, 'app.run': { actions: 'takeRun' } } } } },
    { ...base.implementations, actions: { ...base.implementations.actions, acceptRun, deliverRun, takeRun } } as any,
  );
  return machine as unknown as ClientConnectionMachine;
}

/** One message's events as the prototype's endpoint would send them: consecutive event frames as one run. */
export function grouped(events: InboxEvent[]): Array<InboxEvent | RunEvent> {
  const out: Array<InboxEvent | RunEvent> = [];
  let run: EventFrame[] = [];
  const end = () => {
    if (run.length > 1) out.push({ type: 'frame.events', frames: run });
    else if (run.length === 1) out.push({ type: 'frame.event', frame: run[0]! });
    run = [];
  };
  for (const event of events) {
    if (event.type === 'frame.event') run.push(event.frame);
    else {
      end();
      out.push(event);
    }
  }
  end();
  return out;
}

/** The prototype as a variant of the ws bench's client (`wsimBurst(count, runsVariant())`). */
export function runsVariant(): ClientVariant {
  return {
    machine: runsMachine(),
    inbox: () => {
      const inbox = new ClientInbox();
      return { accept: (data: string) => grouped(inbox.accept(data)) as ClientEvent[] };
    },
    made: (actor, app) => ports.set(actor, app),
  };
}

/** `count` events in batch messages of `perBatch` event frames, as the server sends a burst. */
export function messages(count: number, perBatch: number, first = 1): string[] {
  const out: string[] = [];
  for (let k = 0; k < count; k += perBatch) {
    const parts: string[] = [];
    for (let j = k; j < Math.min(count, k + perBatch); j++) parts.push(encode({ v: 1, type: 'event', thread: 'th0', seq: first + j, epoch: 'e1', event: criticalEvent('t0', 'u0', 'th0', first - 1 + j) }));
    out.push(parts.length === 1 ? parts[0]! : `{"v":1,"type":"batch","frames":[${parts.join(',')}]}`);
  }
  return out;
}

/** A client machine (today's or the prototype) on a simulated clock, open and subscribed to th0, hearing server messages as text. */
export class ClientBench {
  readonly scheduler = new Scheduler();
  readonly actor: ClientActor;
  private readonly inbox = new ClientInbox();

  constructor(
    private readonly variant: 'today' | 'runs',
    port: ClientPort,
  ) {
    const machine = variant === 'runs' ? runsMachine() : clientConnectionMachine;
    this.actor = createPortActor(machine, port, { next: () => 0.5 }, { clock: new SimClock(this.scheduler), input: { id: 'c', token: 'tok', threads: ['th0'] } });
    ports.set(this.actor, port);
    this.actor.start();
    this.actor.send({ type: 'START' });
    this.actor.send({ type: 'LINK_OPEN' });
    this.hear(encode({ v: 1, type: 'welcome', session: 's', epoch: 'e1' }));
    this.hear(encode({ v: 1, type: 'subscribed', thread: 'th0', epoch: 'e1', from: 1, recovered: false }));
  }

  hear(text: string): void {
    const events = this.inbox.accept(text);
    for (const event of this.variant === 'runs' ? grouped(events) : events) this.actor.send(event as ClientEvent);
    this.scheduler.runUntil(this.scheduler.now);
  }

  advance(ms: number): void {
    this.scheduler.runUntil(this.scheduler.now + ms);
  }
}

/** CPU µs per event of inbox + client machine, open and subscribed, for `count` events in batches of `perBatch`. */
export function clientCost(variant: 'today' | 'runs', count: number, perBatch: number): { usPerEvent: number; delivered: number } {
  const port = new CountingPort();
  const client = new ClientBench(variant, port);
  const texts = messages(count, perBatch);
  const cpu = process.cpuUsage();
  for (const text of texts) client.hear(text);
  const used = process.cpuUsage(cpu);
  client.actor.stop();
  return { usPerEvent: (used.user + used.system) / count, delivered: port.delivered };
}
