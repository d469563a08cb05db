/**
 * A client written from PROTOCOL.md alone, as someone would in another
 * language: a bare `ws` socket, its own JSON handling, its own payloadHash
 * (transcribed from the document's Python), its own batch and chunk handling,
 * and nothing imported from machines/ or transport/. It talks to the real
 * server on 127.0.0.1:0; if the document left out something a client needs,
 * this client fails.
 */
import { expect } from 'chai';
import WebSocket from 'ws';
import { keyOf, RealWorld, runEvents, tokenOf, waitFor } from '../transport/harness.ts';

// ---- the document's section 13, in TypeScript ----------------------------------

const imul = (a: number, b: number): number => Number((BigInt(a) * BigInt(b)) & 0xffffffffn);

function docHash(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i); // a UTF-16 code unit
    h1 = imul((h1 ^ c) >>> 0, 2654435761);
    h2 = imul((h2 ^ c) >>> 0, 1597334677);
  }
  h1 = (h1 ^ text.length) >>> 0;
  h1 = imul((h1 ^ (h1 >>> 16)) >>> 0, 2246822507);
  h1 = (h1 ^ imul((h2 ^ (h2 >>> 13)) >>> 0, 3266489909)) >>> 0;
  h2 = imul((h2 ^ (h2 >>> 16)) >>> 0, 2246822507);
  h2 = (h2 ^ imul((h1 ^ (h1 >>> 13)) >>> 0, 3266489909)) >>> 0;
  return h2.toString(16).padStart(8, '0') + h1.toString(16).padStart(8, '0');
}

// ---- the client ------------------------------------------------------------------

type Json = Record<string, unknown> & { type: string };

interface Received {
  seq: number;
  event: { tenant: string; user: string; thread: string; run: string; idx: number; payload: string; hash: string };
}

class DocClient {
  readonly frames: Json[] = [];
  readonly received: Received[] = [];
  readonly problems: string[] = [];
  chunksSeen = 0;
  private next = 1;
  private readonly parts = new Map<string, string[]>();

  constructor(readonly ws: WebSocket, readonly thread: string) {
    ws.on('message', (data) => this.onMessage(data.toString()));
  }

  send(frame: object): void {
    this.ws.send(JSON.stringify({ v: 1, ...frame }));
  }

  private onMessage(text: string): void {
    const frame = JSON.parse(text) as Json;
    for (const f of frame.type === 'batch' ? (frame.frames as Json[]) : [frame]) this.onFrame(f);
    // acks are cumulative: the highest sequence released so far
    if (this.next > 1) this.send({ type: 'ack', acks: { [this.thread]: this.next - 1 } });
  }

  private onFrame(frame: Json): void {
    this.frames.push(frame);
    if (frame.type === 'chunk') return this.onChunk(frame);
    if (frame.type !== 'event') return;
    const seq = frame.seq as number;
    if (seq < this.next) return; // a duplicate
    if (seq > this.next) return void this.problems.push(`gap before ${seq}`);
    const event = frame.event as Received['event'];
    if (docHash(event.payload) !== event.hash) this.problems.push(`payload hash of ${seq}`);
    this.received.push({ seq, event });
    this.next = ((frame.through as number | undefined) ?? seq) + 1;
  }

  private onChunk(chunk: Json): void {
    this.chunksSeen++;
    const key = `${chunk.thread as string}\u0000${chunk.seq as number}`;
    const parts = this.parts.get(key) ?? new Array<string>(chunk.count as number);
    this.parts.set(key, parts);
    parts[chunk.index as number] = chunk.data as string;
    // (filter, not some: a sparse array's holes are skipped by both, so count what arrived)
    if (parts.filter((p) => p !== undefined).length !== chunk.count) return;
    this.parts.delete(key);
    const joined = parts.join('');
    if (docHash(joined) !== chunk.hash) return void this.problems.push(`chunk hash of ${key}`);
    this.onFrame(JSON.parse(joined) as Json);
  }
}

describe('protocol: a client written from PROTOCOL.md alone', function () {
  this.timeout(20_000);
  let world: RealWorld | undefined;
  let socket: WebSocket | undefined;

  afterEach(async () => {
    socket?.terminate();
    await world?.close();
    world = undefined;
  });

  it('a client written from PROTOCOL.md alone (token in the query, own hash, own batches and chunks) gets every event once, in order, intact, and acks them all', async () => {
    world = await RealWorld.start({ users: [{ tenant: 'acme', user: 'ada' }] });
    const w = world;
    const url = new URL(w.server.url);
    url.searchParams.set('token', tokenOf('acme', 'ada'));
    const ws = (socket = new WebSocket(url, { perMessageDeflate: false }));
    const client = new DocClient(ws, 'th1');
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });

    client.send({ type: 'hello', token: tokenOf('acme', 'ada') });
    await waitFor(() => client.frames.length > 0, 'welcome');
    expect(client.frames[0]).to.include({ v: 1, type: 'welcome' });
    expect(client.frames[0]!.epoch).to.be.a('string');

    client.send({ type: 'subscribe', thread: 'th1', from: 1 });
    await waitFor(() => client.frames.some((f) => f.type === 'subscribed'), 'subscribed');
    expect(client.frames.find((f) => f.type === 'subscribed')).to.deep.include({ thread: 'th1', from: 1, recovered: false });

    // a large tool result in every plane of Unicode: chunked, and hashed over UTF-16 code units
    const big = 'résumé ✓ 😀 "quoted" \\ \n'.repeat(8000);
    const [started, thinking, executing, completed, done] = runEvents('acme', 'ada', 'th1', 'r1');
    const events = [...runEvents('acme', 'ada', 'th1', 'r0'), started!, thinking!, executing!, { ...completed!, payload: big, hash: docHash(big) }, done!];
    w.publish(events);
    await waitFor(() => client.received.length >= events.length, 'every event', 10_000);

    expect(client.problems).to.deep.equal([]);
    expect(client.received.map((r) => keyOf(r.event as never))).to.deep.equal(events.map(keyOf));
    expect(client.received.map((r) => r.seq)).to.deep.equal(events.map((_, i) => i + 1));
    expect(client.received[8]!.event.payload).to.equal(big);
    expect(client.chunksSeen).to.be.greaterThan(1);

    client.send({ type: 'ping', id: 7 });
    await waitFor(() => client.frames.some((f) => f.type === 'pong'), 'pong');
    expect(client.frames.find((f) => f.type === 'pong')).to.deep.equal({ v: 1, type: 'pong', id: 7 });

    // the server holds nothing in flight for this client: every sequence was acknowledged
    const session = [...w.hub.getSnapshot().context.sessions.values()][0]!;
    await waitFor(() => session.getSnapshot().context.streams['th1']?.acked === events.length, 'all acknowledged');
  });
});
