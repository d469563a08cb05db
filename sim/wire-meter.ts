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
    for (const pattern of [EVENT_SEQ, CHUNK_SEQ]) {
      for (const m of data.matchAll(pattern)) {
        if (pattern === CHUNK_SEQ) this.chunked.add(`${m[1]}\u0000${m[2]}`);
        const key = `${link}\u0000${m[1]}\u0000${m[2]}`;
        this.sends.set(key, (this.sends.get(key) ?? 0) + 1);
      }
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
