/**
 * What a client machine hears from a link: the decoder's verdict on each
 * message, batches unpacked, chunks joined. Pure and synchronous, shared by
 * the simulated world and real sockets, so both feed the machine the same
 * events. One inbox per link: a new link starts with no partial chunks.
 */
import { ChunkAssembler } from './chunking.ts';
import { frameEvent, type ClientEvent } from './client-connection.ts';
import type { ServerFrame } from './frames.ts';
import { decodeServerFrame, type DecodeOptions } from './protocol.ts';

export type InboxEvent = Extract<ClientEvent, { type: `frame.${string}` }>;

export class ClientInbox {
  private readonly chunks = new ChunkAssembler();

  constructor(private readonly options: DecodeOptions = {}) {}

  accept(data: string | Uint8Array): InboxEvent[] {
    const decoded = decodeServerFrame(data, this.options);
    if (!decoded.ok) return [{ type: 'frame.invalid', code: decoded.error.code, detail: decoded.error.message }];
    const out: InboxEvent[] = [];
    this.unpack(decoded.frame, out);
    return out;
  }

  private unpack(frame: ServerFrame, out: InboxEvent[]): void {
    if (frame.type === 'batch') {
      for (const inner of frame.frames) this.unpack(inner, out);
      return;
    }
    if (frame.type !== 'chunk') {
      out.push(frameEvent(frame));
      return;
    }
    const result = this.chunks.add(frame);
    if (result.status === 'complete') out.push(frameEvent(result.frame));
    if (result.status === 'error') out.push({ type: 'frame.invalid', code: result.error.code, detail: result.error.message });
  }
}
