/**
 * One real client connection machine on a simulated clock, for the
 * PROTOCOL.md specs: server messages go in through the same inbox a real
 * link uses (decode, unbatch, join chunks), and the port records what the
 * client sends, closes and hands to its app.
 */
import { clientConnectionMachine, type ClientConfig } from '../../machines/client-connection.ts';
import { ClientInbox } from '../../machines/client-inbox.ts';
import type { AgentEvent, ClientFrame, EventFrame, ServerFrame } from '../../machines/frames.ts';
import { payloadHash } from '../../machines/hash.ts';
import { encode } from '../../machines/protocol.ts';
import type { DeliverResult } from '../../machines/stream-cursor.ts';
import { SimClock } from '../../sim/clock.ts';
import { createPortActor, type ClientPort } from '../../transport/client-endpoint.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { LinkRecorder, SeqRandom } from '../machines/model-coverage.ts';

export class RecordingClientPort extends LinkRecorder implements ClientPort {
  readonly delivered: Array<{ thread: string; seq: number }> = [];
  readonly resyncs: Array<{ thread: string; from: number; to: number; reason: string }> = [];
  readonly rejectedCodes: string[] = [];
  /** Everything the app heard, in order: 'deliver t1#3', 'resync t1 1→5'. */
  readonly appLog: string[] = [];

  deliver(thread: string, seq: number): DeliverResult {
    this.delivered.push({ thread, seq });
    this.appLog.push(`deliver ${thread}#${seq}`);
    return { ok: true };
  }
  appFailed(): void {}
  deadLetter(): void {}
  resync(thread: string, from: number, to: number, reason: string): void {
    this.resyncs.push({ thread, from, to, reason });
    this.appLog.push(`resync ${thread} ${from}→${to}`);
  }
  rejected(code: string): void {
    this.rejectedCodes.push(code);
  }

  ofType<T extends ClientFrame['type']>(type: T, since = 0): Array<Extract<ClientFrame, { type: T }>> {
    return this.sent.slice(since).filter((f): f is Extract<ClientFrame, { type: T }> => f.type === type);
  }
}

export function agentEvent(thread: string, seq: number): AgentEvent {
  const payload = `${thread}-${seq}`;
  return { tenant: 'acme', user: 'u1', thread, run: 'r1', idx: seq - 1, type: 'agent_thinking', sensitivity: 'public', payload, hash: payloadHash(payload) };
}

export const eventFrame = (thread: string, seq: number, extra: Partial<EventFrame> = {}): EventFrame => ({
  v: 1, type: 'event', thread, seq, epoch: 'e1', event: agentEvent(thread, seq), ...extra,
});

export class ClientWorld {
  readonly scheduler = new Scheduler();
  readonly port = new RecordingClientPort();
  readonly actor;
  private inbox = new ClientInbox();

  constructor(threads: string[] = ['t1'], config: Partial<ClientConfig> = {}) {
    this.actor = createPortActor(clientConnectionMachine, this.port, new SeqRandom(5), {
      clock: new SimClock(this.scheduler),
      input: { id: 'c1', token: 'tok', threads, config },
    }).start();
  }

  /** A message from the server, as text on the wire. */
  message(text: string): void {
    for (const event of this.inbox.accept(text)) this.actor.send(event);
    this.scheduler.runUntil(this.scheduler.now);
  }

  receive(frame: ServerFrame): void {
    this.message(encode(frame));
  }

  /** START, the link opens, welcome: the client is open and has asked for its streams. */
  open(epoch = 'e1'): void {
    this.actor.send({ type: 'START' });
    this.linkOpen();
    this.receive({ v: 1, type: 'welcome', session: 's1', epoch });
  }

  linkOpen(): void {
    this.inbox = new ClientInbox();
    this.actor.send({ type: 'LINK_OPEN' });
  }

  /** The server's answer to a first subscribe. */
  subscribed(thread = 't1', epoch = 'e1', from = 1): void {
    this.receive({ v: 1, type: 'subscribed', thread, epoch, from, recovered: false });
  }

  advance(ms: number): void {
    this.scheduler.runUntil(this.scheduler.now + ms);
  }

  seqs(thread = 't1'): number[] {
    return this.port.delivered.filter((d) => d.thread === thread).map((d) => d.seq);
  }

  get state(): unknown {
    return this.actor.getSnapshot().value;
  }
}
