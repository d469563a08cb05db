/**
 * A batch's in-order events reach the client machine as one `frame.events`
 * and the app as one `deliverRun` (the endpoint's wiring): that is only
 * worth its speed if the app cannot tell it from a client hearing each frame
 * alone: the same events, in the same order, the same failures and retries,
 * the same acks. Both clients (the real machine and endpoint wiring, one fed
 * the inbox's runs, the other the same frames one event each) hear the same
 * messages on a simulated clock: in-order batches, a repeated batch, two
 * batches swapped, and an app that fails once in the middle of a batch.
 * (Only the time of a retry differs: an event the app failed on inside a run
 * waits `appRetryMs`, where frame by frame the batch's next frame handed it
 * again at once.)
 */
import { expect } from 'chai';
import { clientConnectionMachine, type ClientEvent } from '../../machines/client-connection.ts';
import { ClientInbox, framesOf } from '../../machines/client-inbox.ts';
import type { ClientFrame } from '../../machines/frames.ts';
import { encode } from '../../machines/protocol.ts';
import type { DeliverResult } from '../../machines/stream-cursor.ts';
import { SimClock } from '../../sim/clock.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { criticalEvent } from '../../bench/workload.ts';
import { createPortActor, type ClientActor, type ClientPort } from '../../transport/client-endpoint.ts';

/** Records what the app got (one failure on the first try of `failAt`), the acks sent, and the client's macrosteps. */
class LogPort implements ClientPort {
  readonly app: string[] = [];
  readonly acks: number[] = [];
  private failed = false;

  constructor(private readonly failAt: number) {}

  connect(): void {}
  close(): void {}
  send(frame: ClientFrame): void {
    if (frame.type === 'ack') this.acks.push(frame.acks.th0!);
  }
  deliver(_thread: string, seq: number): DeliverResult {
    if (seq === this.failAt && !this.failed) {
      this.failed = true;
      this.app.push(`fail ${seq}`);
      return { ok: false, message: 'app busy' };
    }
    this.app.push(`deliver ${seq}`);
    return { ok: true };
  }
  appFailed(_thread: string, seq: number): void {
    this.app.push(`told failed ${seq}`);
  }
  deadLetter(): void {}
  resync(): void {}
  rejected(): void {}
}

/** `count` events in batch messages of `perBatch` event frames, as the server sends a burst. */
function messages(count: number, perBatch: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < count; k += perBatch) {
    const parts: string[] = [];
    for (let j = k; j < Math.min(count, k + perBatch); j++) parts.push(encode({ v: 1, type: 'event', thread: 'th0', seq: 1 + j, epoch: 'e1', event: criticalEvent('t0', 'u0', 'th0', j) }));
    out.push(parts.length === 1 ? parts[0]! : `{"v":1,"type":"batch","frames":[${parts.join(',')}]}`);
  }
  return out;
}

/** A real client on a simulated clock, open and subscribed to th0, hearing server messages as runs or frame by frame. */
class Client {
  readonly scheduler = new Scheduler();
  readonly actor: ClientActor;
  macrosteps = 0;
  private readonly inbox = new ClientInbox();

  constructor(
    private readonly runs: boolean,
    port: ClientPort,
  ) {
    this.actor = createPortActor(clientConnectionMachine, port, { next: () => 0.5 }, {
      clock: new SimClock(this.scheduler),
      input: { id: 'c', token: 'tok', threads: ['th0'] },
      inspect: (e) => void (e.type === '@xstate.snapshot' && this.macrosteps++),
    });
    this.actor.start();
    this.actor.send({ type: 'START' });
    this.actor.send({ type: 'LINK_OPEN' });
    this.hear(encode({ v: 1, type: 'welcome', session: 's', epoch: 'e1' }));
    this.hear(encode({ v: 1, type: 'subscribed', thread: 'th0', epoch: 'e1', from: 1, recovered: false }));
  }

  hear(text: string): void {
    const events = this.inbox.accept(text);
    const sent: ClientEvent[] = this.runs ? events : framesOf(events).map((frame) => ({ type: `frame.${frame.type}`, frame }) as ClientEvent);
    for (const event of sent) this.actor.send(event);
    this.scheduler.runUntil(this.scheduler.now);
  }

  advance(ms: number): void {
    this.scheduler.runUntil(this.scheduler.now + ms);
  }
}

/** 1..200 in batches of 10, with 41-50 twice and 111-120 before 101-110; time passes between rounds. */
function script(client: Client): void {
  const batches = messages(200, 10);
  const order = [...batches.slice(0, 5), batches[4]!, ...batches.slice(5, 10), batches[11]!, batches[10]!, ...batches.slice(12)];
  for (const [i, text] of order.entries()) {
    client.hear(text);
    if (i % 4 === 3) client.advance(45);
  }
  client.advance(1000);
}

function run(runs: boolean, failAt: number): { port: LogPort; macrosteps: number } {
  const port = new LogPort(failAt);
  const client = new Client(runs, port);
  const before = client.macrosteps;
  script(client);
  client.actor.stop();
  return { port, macrosteps: client.macrosteps - before };
}

describe('transport: a batch\'s in-order events as one client event (frame.events → deliverRun → app.run)', () => {
  it('the inbox gathers a message\'s consecutive event frames of one thread, and nothing else', () => {
    const event = (thread: string, seq: number) => ({ v: 1 as const, type: 'event' as const, thread, seq, event: criticalEvent('t0', 'u0', thread, seq - 1) });
    const batch = encode({ v: 1, type: 'batch', frames: [event('th0', 1), event('th0', 2), event('th1', 1), { v: 1, type: 'pong', id: 1 }, event('th0', 3), event('th0', 4)] });
    const events = new ClientInbox().accept(batch);
    const runs = events.map((e) => (e.type === 'frame.events' ? `${e.type} ${e.frames.map((f) => `${f.thread}:${f.seq}`).join(',')}` : e.type === 'frame.event' ? `${e.type} ${e.frame.thread}:${e.frame.seq}` : e.type));
    expect(runs).to.deep.equal(['frame.events th0:1,th0:2', 'frame.event th1:1', 'frame.pong', 'frame.events th0:3,th0:4']);
  });

  for (const failAt of [57, 51, 110, 0]) {
    it(`hands the app what a client hearing each frame alone does, in the same order, with the same acks (${failAt ? `app fails once at ${failAt}` : 'app never fails'})`, () => {
      const alone = run(false, failAt);
      const runs = run(true, failAt);
      expect(alone.port.app.filter((line) => line.startsWith('deliver'))).to.have.length(200);
      expect(runs.port.app).to.deep.equal(alone.port.app);
      expect(runs.port.acks).to.deep.equal(alone.port.acks);
      expect(alone.port.acks.at(-1)).to.equal(200);
      // the point of it: a batch is one macrostep, not ten (21 messages, and the timers between them)
      expect(runs.macrosteps * 4, `${runs.macrosteps} macrosteps with runs, ${alone.macrosteps} frame by frame`).to.be.below(alone.macrosteps);
    });
  }
});
