/**
 * The world's meter on the server's side of the wire: how often each event
 * sequence went out on each link (retransmissions), read from the full text of
 * every message (batches hold several events). Ground truth from the wire,
 * not a machine's own count.
 */
const EVENT_SEQ = /"type":"event","thread":"((?:[^"\\]|\\.)*)","seq":(\d+)/g;
const CHUNK_SEQ = /"type":"chunk","thread":"((?:[^"\\]|\\.)*)","seq":(\d+),"index":0,/g;

export class WireMeter {
  private sends = new Map<string, number>();
  private chunked = new Set<string>();

  sent(link: string, data: string): void {
    // a native search first: most frames hold no chunk, and pongs or acks no event
    if (data.includes('"type":"event"')) this.count(link, data, EVENT_SEQ, false);
    if (data.includes('"type":"chunk"')) this.count(link, data, CHUNK_SEQ, true);
  }

  private count(link: string, data: string, pattern: RegExp, chunk: boolean): void {
    pattern.lastIndex = 0;
    for (let m = pattern.exec(data); m !== null; m = pattern.exec(data)) {
      if (chunk) this.chunked.add(`${m[1]}\u0000${m[2]}`);
      const key = `${link}\u0000${m[1]}\u0000${m[2]}`;
      this.sends.set(key, (this.sends.get(key) ?? 0) + 1);
    }
  }

  /** Sends beyond the first, over all (link, stream, seq). */
  retransmissions(): number {
    let n = 0;
    for (const count of this.sends.values()) n += count - 1;
    return n;
  }

  /** Distinct stream sequences that went out in chunks. */
  chunkedSeqs(): number {
    return this.chunked.size;
  }

  maxSendsPerSeq(): number {
    let max = 0;
    for (const count of this.sends.values()) max = Math.max(max, count);
    return max;
  }
}
