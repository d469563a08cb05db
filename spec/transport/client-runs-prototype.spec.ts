/**
 * The batch-runs prototype (bench/prototype-client-runs.ts) is only worth its
 * measured speed if the app cannot tell it from today's client: the same
 * events, in the same order, the same failures and retries, the same acks.
 * Both machines hear the same messages on a simulated clock: in-order
 * batches, a repeated batch, two batches swapped, and an app that fails once
 * in the middle of a batch.
 */
import { expect } from 'chai';
import type { ClientFrame } from '../../machines/frames.ts';
import type { DeliverResult } from '../../machines/stream-cursor.ts';
import { ClientBench, messages } from '../../bench/prototype-client-runs.ts';
import type { ClientPort } from '../../transport/client-endpoint.ts';

/** Records what the app got (one failure on the first try of `failAt`) and the acks sent. */
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

/** 1..200 in batches of 10, with 41-50 twice and 111-120 before 101-110; time passes between rounds. */
function script(client: ClientBench): void {
  const batches = messages(200, 10);
  const order = [...batches.slice(0, 5), batches[4]!, ...batches.slice(5, 10), batches[11]!, batches[10]!, ...batches.slice(12)];
  for (const [i, text] of order.entries()) {
    client.hear(text);
    if (i % 4 === 3) client.advance(45);
  }
  client.advance(1000);
}

function run(variant: 'today' | 'runs', failAt: number): LogPort {
  const port = new LogPort(failAt);
  const client = new ClientBench(variant, port);
  script(client);
  client.actor.stop();
  return port;
}

describe('transport: the batch-runs client prototype (bench/prototype-client-runs.ts)', () => {
  for (const failAt of [57, 51, 110]) {
    it(`hands the app what today's client does, in the same order, with the same acks (app fails once at ${failAt})`, () => {
      const today = run('today', failAt);
      const runs = run('runs', failAt);
      expect(today.app.filter((line) => line.startsWith('deliver'))).to.have.length(200);
      expect(runs.app).to.deep.equal(today.app);
      expect(runs.acks).to.deep.equal(today.acks);
      expect(today.acks.at(-1)).to.equal(200);
    });
  }
});
