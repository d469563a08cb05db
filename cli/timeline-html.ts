/**
 * A trace as ONE self-contained HTML file: a sequence diagram drawn as SVG by
 * inline JS from the trace data embedded as JSON. No network: no CDN, no
 * fonts, no external style sheets, so the file opens anywhere, offline. The
 * page's style and drawing code are real files (cli/timeline/timeline.css and
 * timeline.js, copied beside the built module by scripts/build.mjs), inlined
 * into every page; this module builds the data they draw.
 *
 * Lanes (derived from the records): producers (one per run), the hub, the
 * network (faults), then per client endpoint its sessions (all links of that
 * endpoint share one lane), its client machine and its app. Rows follow the
 * trace order; records of the same instant on different lanes share a row.
 * A frame is an arrow from its `send` to its `deliver`, matched by link,
 * direction and frame text in FIFO order (a corrupted frame no longer matches
 * and shows as a tick where it lands); drops end in a red ✗, duplicates add an
 * orange arrow. At most `maxRecords` records are drawn (a window around the
 * first violation when it lies beyond them), with a note.
 */
import { readFileSync } from 'node:fs';
import type { Violation } from '../sim/oracle.ts';
import type { RecordOf, TraceRecord } from '../sim/records.ts';
import { formatMs, roundNumbers } from './duration.ts';
import { firstViolation } from './timeline-text.ts';
import {
  connOfLink,
  describe,
  eventName,
  explainViolation,
  faultPlanLine,
  formatTime,
  laneOf,
  offendingDelivery,
  runHeader,
  summarizeFrame,
  transitionSummary,
  type LaneKind,
} from './timeline-model.ts';

export interface HtmlOptions {
  violations?: Violation[];
  title?: string;
  /** Records drawn at most (default 5,000). */
  maxRecords?: number;
  /** The seed the user typed (the trace itself knows only the world seed). */
  seed?: number;
}

/** An arrow's fate (numbers in the embedded data). */
const Fate = {
  Delivered: 0,
  /** Lost on the way (drop, partition, half-open): ✗ half way. */
  Lost: 1,
  /** Arrived at a closed endpoint: ✗ at the receiver. */
  Refused: 2,
  /** Never arrived within the drawn window. */
  Pending: 3,
} as const;
type Fate = (typeof Fate)[keyof typeof Fate];

interface LaneOut {
  kind: LaneKind;
  label: string;
  group?: string;
}

/** One drawn item: row, lane, class, short label, full text. */
type Item = [row: number, lane: number, cls: string, label: string, tip: string];

interface ArrowOut {
  /** from row, from lane, to row, to lane, fate, direction c2s?, label, duplicate? */
  r0: number;
  l0: number;
  r1: number;
  l1: number;
  fate: Fate;
  c2s: boolean;
  label: string;
  tip: string;
  dup: boolean;
  /** The hub routing an event to a session (from its production to the session's first send of it). */
  route?: boolean;
}

export interface HtmlData {
  title: string;
  /** Run, fault plan, record counts, verdict. */
  header: string[];
  gauges: string[];
  note: string | null;
  lanes: LaneOut[];
  /** Simulated time of each row. */
  rows: number[];
  items: Item[];
  arrows: ArrowOut[];
  bands: { row: number; cls: string; label: string }[];
  /** The first violation: its row, its explanation, and the item of the offending delivery (drawn red). */
  violation: { row: number; lines: string[]; item: number | null } | null;
}

/** Events inside a (possibly clipped) s2c frame, as tenant/user/run#idx keys. */
function eventKeys(frame: string): string[] {
  return [...frame.matchAll(/"tenant":"([^"]*)","user":"([^"]*)","thread":"[^"]*","run":"([^"]*)","idx":(\d+)/g)].map((m) => `${m[1]}/${m[2]}/${m[3]}#${m[4]}`);
}

/** The plan's nominal transit time: a frame slower than this was delayed (reorder, bandwidth, a slow link). */
function nominalTransitMs(plan: unknown): number {
  const latency = (plan as { latency?: { baseMs?: unknown; jitterMs?: unknown } } | undefined)?.latency;
  const base = typeof latency?.baseMs === 'number' ? latency.baseMs : 0;
  const jitter = typeof latency?.jitterMs === 'number' ? latency.jitterMs : 0;
  return base + jitter;
}

const sessionLaneId = (link: string) => `session:${connOfLink(link)}`;

/** The lane key of a record in the HTML view (sessions grouped per endpoint; frames on both ends). */
function laneKey(r: TraceRecord): string | null {
  switch (r.k) {
    case 'run':
    case 'gauge':
    case 'end':
    case 'drop':
    case 'dup':
      return null;
    case 'link':
      return sessionLaneId(r.link);
    case 'transition':
    case 'send':
    case 'deliver':
    case 'reject': {
      const lane = laneOf(r);
      return lane.kind === 'session' ? sessionLaneId(lane.id) : `${lane.kind}:${lane.id}`;
    }
    default: {
      const lane = laneOf(r);
      return `${lane.kind}:${lane.id}`;
    }
  }
}

/** Which records to draw: all of them, or a window of `max` (around the first violation when it lies beyond). */
function window(records: readonly TraceRecord[], max: number, first: Violation | undefined): { from: number; to: number } {
  if (records.length <= max || !first) return { from: 0, to: Math.min(max, records.length) };
  let at = records.findIndex((r) => r.t > first.t);
  if (at < 0) at = records.length;
  if (at <= max * 0.9) return { from: 0, to: max };
  const from = Math.max(0, Math.min(records.length - max, at - Math.floor(max * 0.8)));
  return { from, to: from + max };
}

export function buildHtmlData(records: readonly TraceRecord[], opts: HtmlOptions = {}): HtmlData {
  const max = opts.maxRecords ?? 5000;
  const first = firstViolation(opts.violations);
  const run = records.find((r): r is RecordOf<'run'> => r.k === 'run');
  const { from, to } = window(records, max, first);
  const drawn = records.slice(from, to);

  // ---- lanes, in a fixed order: producers, hub, network, then per endpoint session | client | app
  const producers: string[] = [];
  const endpoints: string[] = [];
  const seenEndpoint = new Set<string>();
  const seenProducer = new Set<string>();
  for (const r of drawn) {
    const key = laneKey(r);
    if (key === null) continue;
    const [kind, id] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    if (kind === 'producer' && !seenProducer.has(id)) (seenProducer.add(id), producers.push(id));
    if ((kind === 'session' || kind === 'client' || kind === 'app') && !seenEndpoint.has(id)) (seenEndpoint.add(id), endpoints.push(id));
  }
  const lanes: LaneOut[] = [];
  const laneIndex = new Map<string, number>();
  const addLane = (key: string, lane: LaneOut) => {
    laneIndex.set(key, lanes.length);
    lanes.push(lane);
  };
  for (const id of producers) addLane(`producer:${id}`, { kind: 'producer', label: `run ${id}` });
  addLane('hub:hub', { kind: 'hub', label: 'hub' });
  addLane('network:network', { kind: 'network', label: 'network' });
  for (const id of endpoints) {
    addLane(`session:${id}`, { kind: 'session', label: `sessions ${id}#*`, group: id });
    addLane(`client:${id}`, { kind: 'client', label: `client ${id}`, group: id });
    addLane(`app:${id}`, { kind: 'app', label: `app ${id}`, group: id });
  }
  const hub = laneIndex.get('hub:hub')!;
  const network = laneIndex.get('network:network')!;

  // ---- rows. Each record takes the first row of its instant where its lane
  // (and, for an arrow, every lane it crosses) is free after its lane's last
  // row: lanes keep their order, different lanes share rows. Bands take a row
  // of their own and nothing of their instant goes above them.
  const rows: number[] = [];
  const laneLast = new Map<number, number>();
  let rowT = Number.NaN;
  let groupStart = 0;
  let floor = 0;
  const place = (t: number, lo: number, hi: number = lo, minRow = 0): number => {
    if (t !== rowT) {
      rowT = t;
      groupStart = rows.length;
    }
    let r = Math.max(groupStart, floor, minRow);
    for (let l = Math.min(lo, hi); l <= Math.max(lo, hi); l++) r = Math.max(r, (laneLast.get(l) ?? -1) + 1);
    while (rows.length <= r) rows.push(t);
    for (let l = Math.min(lo, hi); l <= Math.max(lo, hi); l++) laneLast.set(l, r);
    return r;
  };
  const rowFor = (t: number, lane: number): number => place(t, lane);
  const bandRow = (t: number): number => {
    if (t !== rowT) {
      rowT = t;
      groupStart = rows.length;
    }
    rows.push(t);
    floor = rows.length;
    return rows.length - 1;
  };

  const items: Item[] = [];
  const arrows: ArrowOut[] = [];
  const bands: HtmlData['bands'] = [];
  const pending = new Map<string, ArrowOut[]>();
  const frameKey = (r: { link: string; dir: string; frame: string }) => `${r.link}\u0000${r.dir}\u0000${r.frame}`;
  let violationRow: number | null = null;
  const healAt = run && typeof (run.faultPlan as { healAt?: unknown }).healAt === 'number' ? ((run.faultPlan as { healAt: number }).healAt) : 0;
  let healed = healAt <= 0;
  const nominal = nominalTransitMs(run?.faultPlan);
  const sentAt = new WeakMap<ArrowOut, number>();
  /** Row of each produced event (tenant/user/run#idx), and the session lanes it was routed to. */
  const producedRow = new Map<string, { row: number; label: string; routed: Set<number> }>();
  const offending = first ? offendingDelivery(first, records) : undefined;
  let offendingItem: number | null = null;

  for (const r of drawn) {
    if (first && violationRow === null && r.t > first.t) {
      violationRow = bandRow(first.t);
    }
    if (!healed && r.t >= healAt) {
      healed = true;
      bands.push({ row: bandRow(healAt), cls: 'heal', label: `faults heal at ${formatTime(healAt)} ms` });
    }
    const key = laneKey(r);
    const lane = key === null ? network : laneIndex.get(key)!;
    switch (r.k) {
      case 'run':
      case 'gauge':
        break;
      case 'end':
        bands.push({ row: bandRow(r.t), cls: 'end', label: describe(r) });
        break;
      case 'transition': {
        const link = r.actor.includes('#') ? `#${r.actor.slice(r.actor.lastIndexOf('#') + 1)} ` : '';
        items.push([rowFor(r.t, lane), lane, r.to === 'failed' || r.to === 'closed' ? 'st end' : 'st', `${link}${transitionSummary(r.from, r.to, true)}`, `${r.actor}: ${r.from || '∅'} → ${r.to} [${eventName(r.event)}]`]);
        break;
      }
      case 'send': {
        const receiver = laneIndex.get(r.dir === 'c2s' ? sessionLaneId(r.link) : `client:${connOfLink(r.link)}`) ?? lane;
        const row = rowFor(r.t, lane);
        const arrow: ArrowOut = { r0: row, l0: lane, r1: row, l1: receiver, fate: Fate.Pending, c2s: r.dir === 'c2s', label: summarizeFrame(r.frame), tip: `${formatTime(r.t)} ms ${describe(r)}`, dup: false };
        arrows.push(arrow);
        sentAt.set(arrow, r.t);
        if (r.dir === 's2c') {
          // the hub's routing: from where the event was produced to this session's first send of it
          for (const key of eventKeys(r.frame)) {
            const produced = producedRow.get(key);
            if (!produced || produced.routed.has(lane)) continue;
            produced.routed.add(lane);
            arrows.push({ r0: produced.row, l0: hub, r1: row, l1: lane, fate: Fate.Delivered, c2s: false, label: '', tip: `hub routes ${produced.label} to session ${r.link}`, dup: false, route: true });
          }
        }
        const k = frameKey(r);
        const queue = pending.get(k) ?? [];
        if (!pending.has(k)) pending.set(k, queue);
        queue.push(arrow);
        break;
      }
      case 'dup': {
        const queue = pending.get(frameKey(r));
        const original = queue?.[queue.length - 1];
        if (original && queue) {
          const copy: ArrowOut = { ...original, dup: true, label: `dup ${original.label}`, tip: `duplicated by the network: ${original.tip}` };
          arrows.push(copy);
          queue.push(copy);
          sentAt.set(copy, sentAt.get(original) ?? r.t);
        }
        items.push([rowFor(r.t, network), network, 'dup', `dup ${summarizeFrame(r.frame)}`, `${formatTime(r.t)} ms ${describe(r)}`]);
        break;
      }
      case 'deliver':
      case 'drop': {
        const queue = pending.get(frameKey(r));
        const arrow = queue?.shift();
        if (queue && queue.length === 0) pending.delete(frameKey(r));
        if (arrow) {
          arrow.r1 = r.k === 'drop' && r.reason !== 'closed' ? arrow.r0 : place(r.t, arrow.l1, arrow.l1, arrow.r0);
          arrow.fate = r.k === 'deliver' ? Fate.Delivered : r.reason === 'closed' ? Fate.Refused : Fate.Lost;
          arrow.tip += r.k === 'deliver' ? ` — delivered at ${formatTime(r.t)} ms` : ` — ${r.reason === 'closed' ? 'arrived at a closed end' : `lost (${r.reason})`} at ${formatTime(r.t)} ms`;
          const transit = r.t - (sentAt.get(arrow) ?? r.t);
          // what the network did to it, on the network's own lane: lost, or held past the plan's latency
          if (r.k === 'drop' && r.reason !== 'closed') items.push([rowFor(r.t, network), network, 'drop', `✗ ${r.reason} ${arrow.label}`, `${formatTime(r.t)} ms ${describe(r)}`]);
          if (r.k === 'deliver' && transit > nominal + 1) items.push([rowFor(r.t, network), network, 'delay', `+${formatMs(transit - nominal)} ms late: ${arrow.label}`, `${formatTime(r.t)} ms ${describe(r)}: ${formatMs(transit)} ms on the way, the plan's latency is ${formatMs(nominal)} ms`]);
        } else if (r.k === 'deliver') {
          items.push([rowFor(r.t, lane), lane, 'dlv', `↘ ${summarizeFrame(r.frame)}`, `${formatTime(r.t)} ms ${describe(r)}`]);
        } else {
          items.push([rowFor(r.t, network), network, 'drop', `✗ ${summarizeFrame(r.frame)}`, describe(r)]);
        }
        break;
      }
      case 'fault': {
        if (r.fault === 'reorder') items.push([rowFor(r.t, network), network, 'reorder', `↯ reorder ${r.target ?? ''}`, describe(r)]);
        else bands.push({ row: bandRow(r.t), cls: 'fault', label: describe(r) });
        break;
      }
      case 'produce': {
        const row = place(r.t, lane, hub);
        items.push([row, lane, 'prd', `${r.type} #${r.idx}`, `${formatTime(r.t)} ms ${describe(r)}`]);
        producedRow.set(`${r.tenant}/${r.user}/${r.run}#${r.idx}`, { row, label: `${r.run}#${r.idx} (${r.type}, ${r.tenant}/${r.user})`, routed: new Set() });
        arrows.push({ r0: row, l0: lane, r1: row, l1: hub, fate: Fate.Delivered, c2s: true, label: '', tip: `PUBLISH ${r.run}#${r.idx}`, dup: false });
        break;
      }
      case 'app':
        if (r === offending) {
          // the delivery the violation is about: red, and its text says so
          offendingItem = items.length;
          items.push([rowFor(r.t, lane), lane, 'bad', `✗ ${r.type} ${r.run}#${r.idx}`, `VIOLATION ${first!.invariant}: ${roundNumbers(first!.message)} — ${formatTime(r.t)} ms ${describe(r)}`]);
        } else {
          items.push([rowFor(r.t, lane), lane, r.receivedHash !== r.hash ? 'bad' : 'app', `${r.type} ${r.run}#${r.idx}`, `${formatTime(r.t)} ms ${describe(r)}`]);
        }
        break;
      case 'app_error':
        items.push([rowFor(r.t, lane), lane, r.dead ? 'bad' : 'warn', `${r.dead ? '☠ dead letter' : '⚠ app error'} ${r.run}#${r.idx}`, `${formatTime(r.t)} ms ${describe(r)}`]);
        break;
      case 'resync':
        items.push([rowFor(r.t, lane), lane, 'warn', `resync ${r.thread} ${r.from}→${r.to}`, `${formatTime(r.t)} ms ${describe(r)}`]);
        break;
      case 'reject':
        items.push([rowFor(r.t, lane), lane, 'bad', `rejected ${r.code}`, `${formatTime(r.t)} ms ${describe(r)}`]);
        break;
      case 'link':
        items.push([rowFor(r.t, lane), lane, r.event === 'open' ? 'open' : 'close', r.event === 'open' ? `#${r.link.slice(r.link.lastIndexOf('#') + 1)} link open` : `#${r.link.slice(r.link.lastIndexOf('#') + 1)} closed ${r.code ?? ''} ${r.reason ?? ''}`, `${formatTime(r.t)} ms ${describe(r)}`]);
        break;
      default:
        items.push([rowFor(r.t, lane), lane, 'note', describe(r), `${formatTime(r.t)} ms ${describe(r)}`]);
    }
  }
  if (first && violationRow === null && (to === records.length || drawn.length === 0)) violationRow = bandRow(first.t);

  // ---- texts
  const counts = new Map<string, number>();
  for (const r of records) counts.set(r.k, (counts.get(r.k) ?? 0) + 1);
  const gauges = records.filter((r): r is RecordOf<'gauge'> => r.k === 'gauge').map((g) => `${g.name} (${g.owner}) = ${g.value}${g.cap !== undefined ? ` / cap ${g.cap}` : ''}`);
  const violations = opts.violations ?? [];
  const verdict = violations.length === 0 ? (opts.violations ? 'no violations' : 'not judged') : `${violations.length} violation(s): ${[...new Set(violations.map((v) => v.invariant))].join(', ')}`;
  return {
    title: opts.title ?? (run ? `wsim — ${runHeader(run, opts.seed).replace(/ {2}/g, ' ')}` : 'wsim timeline'),
    header: [
      `${run ? runHeader(run, opts.seed) : 'no run record'} · ${verdict}`,
      ...(run ? [`fault plan: ${faultPlanLine(run.faultPlan)}`] : []),
      `${records.length} records: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}`,
    ],
    gauges,
    note: drawn.length < records.length ? `Drawing records ${from + 1}–${to} of ${records.length}${from > 0 ? ' (a window around the first violation)' : ''}. The text timeline (wsim replay) has them all.` : null,
    lanes,
    rows,
    items,
    arrows,
    bands,
    violation: first ? { row: violationRow ?? -1, lines: explainViolation(first, records), item: offendingItem } : null,
  };
}

/** The page's style sheet and drawing script (plain ES2017), read once from beside this module. */
interface PageAssets {
  css: string;
  js: string;
}

let assets: PageAssets | undefined;

function pageAssets(): PageAssets {
  if (assets) return assets;
  const read = (name: string, tag: string) => inlinable(name, readFileSync(new URL(`./timeline/${name}`, import.meta.url), 'utf8'), tag);
  assets = { css: read('timeline.css', 'style'), js: read('timeline.js', 'script') };
  return assets;
}

/** An asset's text, if it can go inside <tag> as is: a closing tag in it would end the element early and spill the rest into the page. */
export function inlinable(name: string, text: string, tag: string): string {
  if (text.toLowerCase().includes(`</${tag}`)) throw new Error(`cli/timeline/${name} must not contain </${tag}`);
  return text;
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * JSON that is safe inside <script>: no '<' (so no '</script' or '<!--'), no
 * '/' (so no 'http://' either), no U+2028/2029. JSON.parse reads it back as is.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\//g, '\\/')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export function renderHtml(records: readonly TraceRecord[], opts: HtmlOptions = {}): string {
  const data = buildHtmlData(records, opts);
  const { css, js } = pageAssets();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.title)}</title>
<style>
${css}</style>
</head>
<body>
<header id="panel">
  <div class="top">
    <h1 id="title"></h1>
    <div class="tools">
      <button id="zout" title="zoom out">−</button><span id="zlevel">100%</span><button id="zin" title="zoom in">+</button>
      <button id="zfit" title="fit the lanes to the window width">fit</button><button id="z1">1:1</button>
      <span class="hint">ctrl + wheel to zoom</span>
    </div>
  </div>
  <div id="meta"></div>
  <div id="violation" hidden></div>
  <div id="legend"></div>
</header>
<main id="scroll"><div id="lanes"></div><div id="chart"></div></main>
<div id="tip" hidden></div>
<aside id="side" hidden><button id="sideclose" title="close">×</button><div id="sidebody"></div></aside>
<script type="application/json" id="wsim-data">${scriptJson(data)}</script>
<script>
${js}</script>
</body>
</html>
`;
}
