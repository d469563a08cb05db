/**
 * What a client machine hears from a link: the decoder's verdict on each
 * message, batches unpacked, chunks joined, and a message's consecutive event
 * frames of one thread gathered into one `frame.events` (a lone one stays a `frame.event`):
 * the machine hands an in-order run to the app in one step. Pure and
 * synchronous, shared by the simulated world and real sockets, so both feed
 * the machine the same events. One inbox per link: a new link starts with no
 * partial chunks.
 */
import { ChunkAssembler } from './chunking.ts';
import { frameEvent, type ClientEvent } from './client-connection.ts';
import type { EventFrame, ServerFrame } from './frames.ts';
import { decodeServerFrame, type DecodeOptions } from './protocol.ts';

export type InboxEvent = Extract<ClientEvent, { type: `frame.${string}` }>;

/** The frames of the inbox's events, in order (runs spread out again). */
export const framesOf = (events: readonly InboxEvent[]): ServerFrame[] =>
  events.flatMap((e): readonly ServerFrame[] => (e.type === 'frame.events' ? e.frames : e.type === 'frame.invalid' ? [] : [e.frame]));

export class ClientInbox {
  /** Made at the first chunk: most links never get one, and an idle tab's inbox then costs no assembler (two Maps). */
  private chunks?: ChunkAssembler;

  constructor(private readonly options: DecodeOptions = {}) {}

  accept(data: string | Uint8Array): InboxEvent[] {
    const decoded = decodeServerFrame(data, this.options);
    if (!decoded.ok) return [{ type: 'frame.invalid', code: decoded.error.code, detail: decoded.error.message }];
    const out = new Events();
    this.unpack(decoded.frame, out);
    return out.done();
  }

  private unpack(frame: ServerFrame, out: Events): void {
    if (frame.type === 'batch') {
      for (const inner of frame.frames) this.unpack(inner, out);
      return;
    }
    if (frame.type !== 'chunk') {
      out.frame(frame);
      return;
    }
    const result = (this.chunks ??= new ChunkAssembler()).add(frame);
    if (result.status === 'complete') out.frame(result.frame);
    if (result.status === 'error') out.push({ type: 'frame.invalid', code: result.error.code, detail: result.error.message });
  }
}

/** One message's events, its consecutive event frames of one thread gathered as they come. */
class Events {
  private readonly out: InboxEvent[] = [];
  private run: EventFrame[] = [];

  frame(frame: ServerFrame): void {
    if (frame.type !== 'event') return this.push(frameEvent(frame));
    // a run is one stream's: the next thread's frames start another
    if (this.run.length > 0 && this.run[0]!.thread !== frame.thread) this.endRun();
    this.run.push(frame);
  }

  push(event: InboxEvent): void {
    this.endRun();
    this.out.push(event);
  }

  done(): InboxEvent[] {
    this.endRun();
    return this.out;
  }

  private endRun(): void {
    if (this.run.length === 1) this.out.push({ type: 'frame.event', frame: this.run[0]! });
    else if (this.run.length > 1) this.out.push({ type: 'frame.events', frames: this.run });
    this.run = [];
  }
}
