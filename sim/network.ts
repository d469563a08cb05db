/**
 * The simulated transport: links between client endpoints and the one server,
 * with every fault of the plan. All timing goes through the scheduler and
 * every random decision through the network's own random stream, drawn in a
 * fixed order per frame, so one seed and one plan give one trace.
 *
 * Model of one link direction (a pipe): FIFO like TCP. A frame waits for the
 * wire to be free, occupies it for bytes/bandwidth, then travels for one
 * latency (base + jitter); it never overtakes an earlier frame unless the
 * reorder fault delays it on purpose. Bytes waiting for or on the wire are the
 * sender's buffered bytes; over the cap the send reports backpressure, and the
 * sender hears onDrain once they fall back to the cap.
 */
import type { CloseInfo, ConnectRequest, Link, LinkHandler, SendResult, ServerHandler, Transport } from '../transport/link.ts';
import { inWindow, matchesTarget, type Dir, type FaultPlan, type LinkShape } from './fault-plan.ts';
import type { Random } from './random.ts';
import type { Scheduler, TimerId } from './scheduler.ts';
import type { Trace } from './trace.ts';

export interface FaultCounts {
  drop: number;
  dup: number;
  reorder: number;
  corrupt: number;
  disconnect: number;
  partitionDrop: number;
  halfOpenDrop: number;
  blackhole: number;
  restart: number;
  refused: number;
}

export interface SimNetworkOptions {
  scheduler: Scheduler;
  /** Already the 'network' fork of the world's random. */
  random: Random;
  trace: Trace;
  plan: FaultPlan;
  /** Called when a restarted server is back up (the world rebuilds its server side). */
  onRestart?: () => void;
  /** What one link direction may hold (default MAX_HELD_BYTES; tests use less). */
  maxHeldBytes?: number;
}

type Side = 'client' | 'server';

/** One direction of a link. */
interface Pipe {
  readonly dir: Dir;
  /** bytes/s; Infinity = unlimited. */
  readonly bandwidth: number;
  /** Buffered bytes above which a send reports backpressure; Infinity = none. */
  readonly cap: number;
  /** When the wire finishes the last accepted frame. */
  wireFreeAt: number;
  /** Bytes accepted and not yet off the wire. */
  queued: number;
  /** Latest arrival of an in-order frame: later frames never arrive before it. */
  lastArrival: number;
  /** A send reported backpressure and onDrain is owed. */
  pressured: boolean;
  /** Bytes of the frames the network holds for this direction: accepted and not yet delivered or dropped. */
  held: number;
  /** The sender went over MAX_HELD_BYTES: the pipe refuses every later frame. */
  ranAway: boolean;
}

type Phase = 'connecting' | 'blackholed' | 'open' | 'done';

interface LinkState {
  readonly id: string;
  readonly request: ConnectRequest;
  readonly client: LinkHandler;
  server: LinkHandler | null;
  phase: Phase;
  /** The side has heard (or is about to hear) onClose: it sends and receives nothing more. */
  clientDone: boolean;
  serverDone: boolean;
  /** The close has been traced (once per link, when the first side closes). */
  closeTraced: boolean;
  /** Scheduled deliveries and wire slots of this link: cancelled once both sides are gone. */
  timers: Set<TimerId>;
  readonly baseLatency: number;
  /** The link's draws in the disconnect lottery: the network's stream forked by the link's name. */
  readonly lots: Random;
  readonly c2s: Pipe;
  readonly s2c: Pipe;
}

/** Frame text kept in trace records: enough to read, small enough to keep traces small. */
const TRACE_FRAME_CHARS = 200;
/**
 * V8 keeps a slice's whole parent alive, so a plain slice kept in the trace
 * would hold every megabyte frame ever sent; the slice of a concatenation
 * copies the clipped text instead (the same characters).
 */
const clip = (data: string): string => (data.length > TRACE_FRAME_CHARS ? (' ' + data.slice(0, TRACE_FRAME_CHARS)).slice(1) : data);

/**
 * What one link direction may hold: bytes queued for the wire plus bytes in
 * flight. A kernel's and a ws library's buffers are bounded by memory; ours
 * is bounded here, so a sender that never stops (a retransmit loop of
 * megabyte frames) fails its run with a `runaway` record instead of taking
 * the process down with V8's out-of-memory error. The most an honest run
 * held, measured on 2026-11-30 over all 32 scenarios (seed 42, their default
 * runs, 3 swarm seeds each; large_payload_handling_performance over 8 seeds
 * and 20 swarm seeds): 26.2 MB, 1 MB frames queued on a 2 MB/s link. 256 MB
 * is ten times that, so no honest trace changes, and small enough that a
 * runaway run stays far from the heap limit.
 */
export const MAX_HELD_BYTES = 256 * 1024 * 1024;

const CLOSE_ABNORMAL = 1006;
const CLOSE_RESTART = 1012;

/** The handle one side holds. */
class SimLink implements Link {
  constructor(
    private readonly net: SimNetwork,
    private readonly state: LinkState,
    private readonly side: Side,
  ) {}

  get id(): string {
    return this.state.id;
  }

  send(data: string): SendResult {
    return this.net.send(this.state, this.side, data);
  }

  close(code: number, reason: string): void {
    this.net.closeSide(this.state, this.side, code, reason);
  }

  bufferedBytes(): number {
    return (this.side === 'client' ? this.state.c2s : this.state.s2c).queued;
  }
}

export class SimNetwork implements Transport {
  private readonly scheduler: Scheduler;
  private readonly random: Random;
  private readonly trace: Trace;
  private readonly plan: FaultPlan;
  private readonly onRestart: (() => void) | undefined;
  private readonly maxHeldBytes: number;
  /** The most any one link direction has held (the honest peak the bound is set against). */
  private heldPeak = 0;
  private runawaySeen = false;
  private server: ServerHandler | null = null;
  /** Links not yet closed on both sides, in creation order (the order disconnect picks from). */
  private readonly links = new Map<string, LinkState>();
  private serverDownUntil = -Infinity;
  private readonly counts: FaultCounts = {
    drop: 0, dup: 0, reorder: 0, corrupt: 0, disconnect: 0,
    partitionDrop: 0, halfOpenDrop: 0, blackhole: 0, restart: 0, refused: 0,
  };

  constructor(opts: SimNetworkOptions) {
    this.scheduler = opts.scheduler;
    this.random = opts.random;
    this.trace = opts.trace;
    this.plan = opts.plan;
    this.onRestart = opts.onRestart;
    this.maxHeldBytes = opts.maxHeldBytes ?? MAX_HELD_BYTES;
    this.scheduleDisconnects();
    this.scheduleRestarts();
  }

  // ------------------------------------------------------------ Transport

  /** The server side. A later call replaces the server (a world may re-listen after a restart). */
  listen(server: ServerHandler): void {
    this.server = server;
  }

  connect(request: ConnectRequest, client: LinkHandler): Link {
    const shape = this.shapeFor(request.endpoint);
    const state: LinkState = {
      id: request.connId,
      request,
      client,
      server: null,
      phase: 'connecting',
      clientDone: false,
      serverDone: false,
      closeTraced: false,
      timers: new Set(),
      baseLatency: shape?.latencyMs ?? this.plan.latency.baseMs,
      lots: this.random.fork(`lots ${request.connId}`),
      c2s: this.pipe('c2s', shape),
      s2c: this.pipe('s2c', shape),
    };
    if (this.links.has(state.id)) throw new Error(`SimNetwork.connect: duplicate connId ${state.id}`);
    this.links.set(state.id, state);
    const now = this.scheduler.now;
    if (this.plan.blackholes.some((w) => inWindow(w, now, this.plan.healAt) && matchesTarget(w.target, request.endpoint))) {
      // Nothing will ever happen: only the client's own close ends this link.
      state.phase = 'blackholed';
      this.counts.blackhole++;
      this.trace.append({ t: now, k: 'fault', fault: 'blackhole', target: state.id, detail: request.endpoint });
      return new SimLink(this, state, 'client');
    }
    const partitionedAtConnect = this.partitioned(request.endpoint, now);
    this.scheduler.after(this.latency(state), 'net.handshake', () => this.handshake(state, partitionedAtConnect));
    return new SimLink(this, state, 'client');
  }

  // ------------------------------------------------------------ world API

  /** Links not yet closed on both sides (connecting, blackholed or open). */
  openLinks(): number {
    return this.links.size;
  }

  stats(): FaultCounts {
    return { ...this.counts };
  }

  /** The most bytes one link direction has held so far. */
  peakHeldBytes(): number {
    return this.heldPeak;
  }

  /** A sender went over the bound: the run has failed, and going on would only spend memory and time. */
  ranAway(): boolean {
    return this.runawaySeen;
  }

  /** Close these links on both sides with this code (a crashed node's: no goodbye). */
  closeLinks(ids: Iterable<string>, code: number, reason: string): void {
    for (const id of ids) {
      const state = this.links.get(id);
      if (state) this.closeBoth(state, code, reason);
    }
  }

  /** Close every link on both sides with this code (teardown). */
  closeAll(code: number, reason: string): void {
    for (const state of [...this.links.values()]) this.closeBoth(state, code, reason);
  }

  // ------------------------------------------------------------ connect

  private handshake(state: LinkState, partitionedAtConnect: boolean): void {
    if (state.clientDone) return; // the client gave up while connecting
    const now = this.scheduler.now;
    const why =
      this.server === null ? 'no server'
      : now < this.serverDownUntil ? 'server down'
      : partitionedAtConnect || this.partitioned(state.request.endpoint, now) ? 'partition'
      : null;
    if (why !== null) {
      this.counts.refused++;
      this.trace.append({ t: now, k: 'fault', fault: 'refused', target: state.id, detail: why });
      this.closeSide(state, 'client', CLOSE_ABNORMAL, 'connect refused');
      return;
    }
    state.phase = 'open';
    this.trace.append({ t: now, k: 'link', link: state.id, event: 'open' });
    state.server = this.server!.accept(new SimLink(this, state, 'server'), state.request);
    if (!state.clientDone) state.client.onOpen();
  }

  // ------------------------------------------------------------ frames

  /** @internal SimLink's send. */
  send(state: LinkState, side: Side, data: string): SendResult {
    if (state.phase !== 'open' || (side === 'client' ? state.clientDone : state.serverDone)) {
      return { ok: false, reason: 'closed' };
    }
    const pipe = side === 'client' ? state.c2s : state.s2c;
    const dir = pipe.dir;
    const now = this.scheduler.now;
    const bytes = data.length;
    if (pipe.ranAway || pipe.held + bytes > this.maxHeldBytes) return this.refuse(state, pipe, bytes);
    this.trace.append({ t: now, k: 'send', link: state.id, dir, frame: clip(data), bytes });

    // Fixed draws per frame, whatever the plan: a changed probability never shifts later decisions.
    const rnd = this.random;
    const jitter = rnd.next() * this.plan.latency.jitterMs;
    const dropRoll = rnd.next();
    const dupRoll = rnd.next();
    const reorderRoll = rnd.next();
    const corruptRoll = rnd.next();
    const faulty = now < this.plan.healAt;

    const offWire = this.transmit(state, side, pipe, bytes);
    if (this.lostInTransit(state, dir, data, now)) return this.sendResult(pipe);
    if (faulty && dropRoll < this.plan.drop) {
      this.counts.drop++;
      this.trace.append({ t: now, k: 'drop', link: state.id, dir, frame: clip(data), reason: 'drop' });
      return this.sendResult(pipe);
    }

    let arrival = offWire + state.baseLatency + jitter;
    if (faulty && reorderRoll < this.plan.reorder) {
      // Held back so that later frames overtake it; it does not move the in-order horizon.
      const extra = Math.max(state.baseLatency, 1) * (2 + 2 * rnd.next());
      arrival += extra;
      this.counts.reorder++;
      this.trace.append({ t: now, k: 'fault', fault: 'reorder', target: state.id, detail: `${dir} +${extra}ms` });
    } else {
      if (arrival < pipe.lastArrival) arrival = pipe.lastArrival;
      pipe.lastArrival = arrival;
    }
    let payload = data;
    if (faulty && corruptRoll < this.plan.corrupt) payload = this.corrupt(state, dir, data, now);
    this.carry(state, pipe, arrival, payload);
    if (faulty && dupRoll < this.plan.dup) {
      this.counts.dup++;
      this.trace.append({ t: now, k: 'dup', link: state.id, dir, frame: clip(payload) });
      const later = arrival + rnd.int(1, Math.max(1, Math.ceil(state.baseLatency)));
      this.carry(state, pipe, later, payload);
    }
    return this.sendResult(pipe);
  }

  /** The pipe holds the frame until it arrives at `at` (delivered, or dropped there). */
  private carry(state: LinkState, pipe: Pipe, at: number, payload: string): void {
    pipe.held += payload.length;
    if (pipe.held > this.heldPeak) this.heldPeak = pipe.held;
    this.linkTimer(state, at, 'net.deliver', () => {
      pipe.held -= payload.length;
      this.deliver(state, pipe.dir, payload);
    });
  }

  /**
   * A sender over the bound: traced once, and from then on the pipe takes
   * nothing more (like a socket whose buffer stays full), so what the network
   * holds stays bounded. The sender hears `closed`.
   */
  private refuse(state: LinkState, pipe: Pipe, bytes: number): SendResult {
    if (!pipe.ranAway) {
      pipe.ranAway = true;
      this.runawaySeen = true;
      this.trace.append({ t: this.scheduler.now, k: 'runaway', link: state.id, dir: pipe.dir, bytes: pipe.held + bytes, bound: this.maxHeldBytes });
    }
    return { ok: false, reason: 'closed' };
  }

  /** A timer that belongs to a link (and goes with it). */
  private linkTimer(state: LinkState, at: number, label: string, fn: () => void): void {
    const id = this.scheduler.at(at, label, () => {
      state.timers.delete(id);
      fn();
    });
    state.timers.add(id);
  }

  /** Put `bytes` on the sender's wire; returns when they are off it. */
  private transmit(state: LinkState, side: Side, pipe: Pipe, bytes: number): number {
    const now = this.scheduler.now;
    const start = pipe.wireFreeAt > now ? pipe.wireFreeAt : now;
    if (pipe.bandwidth === Infinity) return start;
    const offWire = start + (bytes * 1000) / pipe.bandwidth;
    pipe.wireFreeAt = offWire;
    pipe.queued += bytes;
    this.linkTimer(state, offWire, 'net.wire', () => {
      pipe.queued -= bytes;
      if (pipe.pressured && pipe.queued <= pipe.cap) {
        pipe.pressured = false;
        const done = side === 'client' ? state.clientDone : state.serverDone;
        const handler = side === 'client' ? state.client : state.server;
        if (!done) handler?.onDrain?.();
      }
    });
    return offWire;
  }

  private sendResult(pipe: Pipe): SendResult {
    if (pipe.queued > pipe.cap) {
      pipe.pressured = true;
      return { ok: true, bufferedBytes: pipe.queued, backpressure: true };
    }
    return { ok: true, bufferedBytes: pipe.queued };
  }

  private deliver(state: LinkState, dir: Dir, data: string): void {
    const now = this.scheduler.now;
    const toClient = dir === 's2c';
    const handler = toClient ? state.client : state.server;
    if ((toClient ? state.clientDone : state.serverDone) || handler === null) {
      this.trace.append({ t: now, k: 'drop', link: state.id, dir, frame: clip(data), reason: 'closed' });
      return;
    }
    // Checked again on arrival: a partition that began in flight still cuts the frame.
    if (this.lostInTransit(state, dir, data, now)) return;
    this.trace.append({ t: now, k: 'deliver', link: state.id, dir, frame: clip(data), bytes: data.length });
    handler.onFrame(data);
  }

  /** Partition or half-open at time t: trace and count the loss. */
  private lostInTransit(state: LinkState, dir: Dir, data: string, t: number): boolean {
    // twice per frame: a plan without partitions or half-open windows loses nothing here
    if (this.plan.partitions.length === 0 && this.plan.halfOpen.length === 0) return false;
    const endpoint = state.request.endpoint;
    let reason: string | null = null;
    if (this.partitioned(endpoint, t)) {
      this.counts.partitionDrop++;
      reason = 'partition';
    } else if (this.plan.halfOpen.some((w) => w.dir === dir && inWindow(w, t, this.plan.healAt) && matchesTarget(w.target, endpoint))) {
      this.counts.halfOpenDrop++;
      reason = 'half-open';
    }
    if (reason === null) return false;
    this.trace.append({ t, k: 'drop', link: state.id, dir, frame: clip(data), reason });
    return true;
  }

  /**
   * Either cut the frame short or replace it with garbage. Both are never a
   * valid frame: a corruption that still parses (a flipped digit in `seq`)
   * would model a broken TCP/TLS stack, not a faulty proxy or peer, and no
   * protocol above the transport can tell it from the truth.
   */
  private corrupt(state: LinkState, dir: Dir, data: string, t: number): string {
    const rnd = this.random;
    const flip = rnd.chance(0.5) && data.length > 1;
    let out: string;
    if (flip) {
      // a JSON object without its closing brace never parses
      out = data.slice(0, rnd.int(0, data.length - 2));
    } else {
      const len = rnd.int(1, 64);
      out = '';
      for (let i = 0; i < len; i++) out += String.fromCharCode(rnd.int(32, 126));
      if (out === data) out += '#';
    }
    this.counts.corrupt++;
    this.trace.append({ t, k: 'fault', fault: 'corrupt', target: state.id, detail: `${dir} ${flip ? 'truncated' : 'garbage'}` });
    return out;
  }

  // ------------------------------------------------------------ close

  /**
   * One side closes: it hears onClose at once (scheduled at `now`, so a
   * machine never re-enters itself); the peer hears the same code after the
   * frames already on their way, one latency later at the earliest.
   * @internal SimLink's close.
   */
  closeSide(state: LinkState, side: Side, code: number, reason: string): void {
    if (side === 'client' ? state.clientDone : state.serverDone) return;
    if (state.phase !== 'open') {
      // Connecting or blackholed: there is no server side to tell.
      state.serverDone = true;
      this.markDone(state, 'client', code, reason);
      return;
    }
    this.markDone(state, side, code, reason);
    const peer: Side = side === 'client' ? 'server' : 'client';
    if (peer === 'client' ? state.clientDone : state.serverDone) return;
    const pipe = side === 'client' ? state.c2s : state.s2c;
    const now = this.scheduler.now;
    const sent = pipe.wireFreeAt > now ? pipe.wireFreeAt : now;
    const arrival = Math.max(sent + state.baseLatency, pipe.lastArrival);
    this.scheduler.at(arrival, 'net.close', () => {
      if (!(peer === 'client' ? state.clientDone : state.serverDone)) this.markDone(state, peer, code, reason);
    });
  }

  /** Both sides hear the close now (disconnect, restart, teardown). */
  private closeBoth(state: LinkState, code: number, reason: string): void {
    if (state.phase !== 'open') state.serverDone = true; // no server side yet
    if (!state.clientDone) this.markDone(state, 'client', code, reason);
    if (!state.serverDone) this.markDone(state, 'server', code, reason);
  }

  private markDone(state: LinkState, side: Side, code: number, reason: string): void {
    if (side === 'client') state.clientDone = true;
    else state.serverDone = true;
    if (!state.closeTraced) {
      state.closeTraced = true;
      this.trace.append({ t: this.scheduler.now, k: 'link', link: state.id, event: 'close', code, reason });
    }
    if (state.clientDone && state.serverDone) {
      state.phase = 'done';
      this.links.delete(state.id);
      // frames still on the way to a closed link would only be dropped on arrival: nothing is left behind
      for (const id of state.timers) this.scheduler.cancel(id);
      state.timers.clear();
      state.c2s.held = state.s2c.held = 0;
    }
    const handler = side === 'client' ? state.client : state.server;
    if (handler === null) return;
    const info: CloseInfo = { code, reason };
    this.scheduler.after(0, 'net.onClose', () => handler.onClose(info));
  }

  // ------------------------------------------------------------ scheduled faults

  private scheduleDisconnects(): void {
    const { at, everyMs } = this.plan.disconnect;
    for (const t of at) if (t < this.plan.healAt) this.scheduler.at(t, 'net.disconnect', () => this.disconnectOne());
    if (everyMs !== undefined) this.scheduleEvery(everyMs, everyMs);
  }

  private scheduleEvery(t: number, everyMs: number): void {
    if (t >= this.plan.healAt) return; // stops at healAt, so a healed world can settle
    this.scheduler.at(t, 'net.disconnect-every', () => {
      this.disconnectOne();
      this.scheduleEvery(t + everyMs, everyMs);
    });
  }

  private disconnectOne(): void {
    const open: LinkState[] = [];
    for (const s of this.links.values()) if (s.phase === 'open' && !s.clientDone && !s.serverDone) open.push(s);
    if (open.length === 0) return;
    // each open link draws a lot from its own stream, the lowest goes: another link's coming or going
    // changes the victim only if it was that link (one pick among all would shift with every link)
    let victim = open[0]!;
    let lowest = Infinity;
    for (const s of open) {
      const lot = s.lots.next();
      if (lot < lowest) [victim, lowest] = [s, lot];
    }
    this.counts.disconnect++;
    this.trace.append({ t: this.scheduler.now, k: 'fault', fault: 'disconnect', target: victim.id, detail: victim.request.endpoint });
    this.closeBoth(victim, CLOSE_ABNORMAL, 'disconnect');
  }

  private scheduleRestarts(): void {
    for (const r of this.plan.restarts) {
      this.scheduler.at(r.at, 'net.restart', () => this.restartDown(r.downMs));
      this.scheduler.at(r.at + r.downMs, 'net.restart-up', () => this.restartUp());
    }
  }

  private restartDown(downMs: number): void {
    const now = this.scheduler.now;
    this.serverDownUntil = Math.max(this.serverDownUntil, now + downMs);
    this.counts.restart++;
    this.trace.append({ t: now, k: 'fault', fault: 'restart', detail: `down ${downMs}ms` });
    for (const state of [...this.links.values()]) {
      if (state.phase === 'open') this.closeBoth(state, CLOSE_RESTART, 'restart');
    }
  }

  private restartUp(): void {
    this.trace.append({ t: this.scheduler.now, k: 'fault', fault: 'restart_up' });
    this.onRestart?.();
  }

  // ------------------------------------------------------------ helpers

  private partitioned(endpoint: string, t: number): boolean {
    return this.plan.partitions.some((w) => inWindow(w, t, this.plan.healAt) && matchesTarget(w.target, endpoint));
  }

  private shapeFor(endpoint: string): LinkShape | undefined {
    return this.plan.links.find((l) => matchesTarget(l.target, endpoint));
  }

  private pipe(dir: Dir, shape: LinkShape | undefined): Pipe {
    return {
      dir,
      bandwidth: shape?.bandwidth ?? this.plan.bandwidth ?? Infinity,
      cap: shape?.sendBufferBytes ?? this.plan.sendBufferBytes ?? Infinity,
      wireFreeAt: 0,
      queued: 0,
      lastArrival: 0,
      pressured: false,
      held: 0,
      ranAway: false,
    };
  }

  /** One handshake latency: base + jitter. */
  private latency(state: LinkState): number {
    return state.baseLatency + this.random.next() * this.plan.latency.jitterMs;
  }
}
