import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { requireChromium } from '../browser/chromium.ts';
import type { Violation } from '../../sim/oracle.ts';
import type { RecordOf, TraceRecord } from '../../sim/records.ts';
import { buildHtmlData, inlinable, renderHtml, type HtmlData } from '../../cli/timeline-html.ts';
import { summarizeFrame } from '../../cli/timeline-model.ts';
import { renderTimeline } from '../../cli/timeline-text.ts';
import { HAND_TRACE, HAND_VIOLATION, realTrace, realWithDuplicate } from './fixtures.ts';

const run = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';

const embedded = (html: string): HtmlData => {
  const m = /<script type="application\/json" id="wsim-data">([^]*?)<\/script>/.exec(html);
  expect(m, 'the data script').to.not.equal(null);
  return JSON.parse(m![1]!) as HtmlData;
};

describe('cli/timeline-text', () => {
  it('prints the run header, one line per record, and a summary', () => {
    const text = renderTimeline(HAND_TRACE, { violations: [] });
    expect(text).to.contain('scenario hand_made  world seed 7  path p1');
    expect(text).to.contain('fault plan: latency=5+0ms drop=0.1 dup=0.1 reorder=0.1');
    expect(text).to.match(/\n\s+0 {2}client t0\/u0\/0\s+idle → connecting \[START\]/);
    expect(text).to.contain('connecting → authenticating [LINK_OPEN]');
    expect(text).to.contain('open(heartbeat.waiting,acks.idle,app.ready) → reconnecting [LINK_CLOSED]');
    expect(text).to.contain('reconnecting → connecting [after backoff]');
    expect(text).to.contain('──▶ send hello [t0/u0/0#1]');
    expect(text).to.contain('◀── deliver welcome e1');
    expect(text).to.contain('⧉ duplicate s2c event th0#1 agent_started');
    expect(text).to.contain('✗ drop s2c event th0#2 tool_executing [t0/u0/0#1] (drop)');
    expect(text).to.contain('⚡ fault disconnect t0/u0/0#1');
    expect(text).to.contain('link t0/u0/0#1 closed 1006 disconnect');
    expect(text).to.match(/app t0\/u0\/0\s+received tool_completed r0#2 \(th0 seq 3\)/);
    expect(text).to.contain('resync th0: 2 → 3 (beyond_window)');
    expect(text).to.contain('dead letter r0#3');
    expect(text).to.contain('rejected frame: malformed_json');
    expect(text).to.contain('gauge outbox.highWater of sessions = 3 (cap 4608)');
    expect(text).to.contain('end: 0 timers, 0 live actors, 0 open links left');
    for (const count of ['app 3', 'resync 1', 'app_error 1', 'transition 11', 'send 4', 'drop 1', 'dup 1']) expect(text).to.contain(count);
    expect(text).to.contain('violations: none');
    expect(text.split('\n').filter((l) => /^\s+\d+(\.\d)? {2}\S/.test(l))).to.have.length(HAND_TRACE.length);
  });

  it('leads with the seed the user typed and names the trace\'s own as the world seed', () => {
    const text = renderTimeline(HAND_TRACE, { violations: [], seed: 42 });
    expect(text.split('\n')[0]).to.equal('wsim timeline — scenario hand_made  seed 42  path p1  (world seed 7)');
    const html = buildHtmlData(HAND_TRACE, { violations: [], seed: 42 });
    expect(html.title).to.equal('wsim — scenario hand_made seed 42 path p1 (world seed 7)');
    expect(html.header[0]).to.contain('seed 42  path p1  (world seed 7)');
    expect(renderHtml(HAND_TRACE, { seed: 42 })).to.not.match(/seed 7(?! *\))/);
  });

  it('marks the first violation at its time and explains it', () => {
    const lines = renderTimeline(HAND_TRACE, { violations: [HAND_VIOLATION] }).split('\n');
    const marker = lines.findIndex((l) => l.includes('>>>  VIOLATION'));
    expect(marker).to.be.greaterThan(0);
    expect(lines[marker]).to.contain('exactly_once violated at 102 ms: t0/u0/0 received r0#2 (tool_completed) twice');
    expect(lines[marker - 1]).to.match(/^\s+102 .*received tool_completed r0#2/);
    const explanation = lines.slice(marker, marker + 6).join('\n');
    expect(explanation).to.contain('expected: every critical event reaches each app that should have it exactly once');
    expect(explanation).to.contain('connection t0/u0/0: user t0/u0, role admin');
    expect(explanation).to.contain('event r0#2: tool_completed, produced at 45 ms for t0/u0 on thread th0');
    expect(explanation).to.contain('received it at 100 ms (seq 3), 102 ms (seq 3)');
    const after = lines.slice(marker).find((l) => /^\s+\d/.test(l));
    expect(after).to.match(/^\s+103 /);
    expect(lines.join('\n')).to.contain('violations: 1 (exactly_once 1)');
  });

  it('paints with ANSI colours when asked, the violation in bold red', () => {
    const text = renderTimeline(HAND_TRACE, { violations: [HAND_VIOLATION], color: true });
    expect(text).to.contain('\u001b[1;97;41m');
    expect(text).to.contain('VIOLATION exactly_once');
    expect(text).to.not.contain('>>>');
    expect(renderTimeline(HAND_TRACE, {})).to.not.contain('\u001b[');
  });

  it('limits the lines and still shows the violation with what led up to it', () => {
    const text = renderTimeline(HAND_TRACE, { violations: [HAND_VIOLATION], limit: 5, context: 2 });
    expect(text).to.contain(`${HAND_TRACE.length - 5} more records`);
    expect(text).to.contain('skipping to 101 ms');
    expect(text).to.contain('>>>  VIOLATION exactly_once');
    expect(text).to.contain('records after it');
    expect(text.split('\n').filter((l) => /^\s+\d+ {2}\S/.test(l))).to.have.length(5 + 2);
  });

  it('filters by record kind', () => {
    const text = renderTimeline(HAND_TRACE, { kinds: ['transition'] });
    expect(text).to.contain('idle → connecting');
    expect(text).to.not.contain('send hello');
  });

  it('renders a real run with its transitions and the oracle\'s first violation', () => {
    const { records, violations } = realWithDuplicate();
    expect(violations.map((v) => v.invariant)).to.include('exactly_once');
    const text = renderTimeline(records, { violations });
    expect(text).to.contain('scenario cli_fixture  world seed 1');
    expect(text).to.contain('idle → connecting [START]');
    expect(text).to.contain('connecting → authenticating [LINK_OPEN]');
    expect(text).to.match(/open: acks idle → pending \[/);
    expect(text).to.match(/>>> {2}VIOLATION exactly_once violated at [\d.]+ ms: \S+ received \S+#\d+ \(tool_executing\) twice/);
  });

  it('stays fast on a 100k-record trace', function () {
    this.timeout(30_000);
    const base = realTrace();
    const big: TraceRecord[] = [];
    const span = base[base.length - 1]!.t + 1;
    for (let k = 0; big.length < 100_000; k++) for (const r of base) big.push({ ...r, t: r.t + k * span });
    const t0 = performance.now();
    const full = renderTimeline(big, {});
    const fullMs = performance.now() - t0;
    const t1 = performance.now();
    const limited = renderTimeline(big, { limit: 1000 });
    const limitedMs = performance.now() - t1;
    expect(full.split('\n').length).to.be.greaterThan(100_000);
    expect(limited.split('\n').length).to.be.lessThan(1100);
    expect(fullMs, 'full render ms').to.be.lessThan(5000);
    expect(limitedMs, 'limited render ms').to.be.lessThan(1000);
  });
});

describe('cli/timeline-model summarizeFrame', () => {
  it('summarizes frames, batches, clipped and garbage text', () => {
    expect(summarizeFrame('{"v":1,"type":"ack","acks":{"th0":5,"th1":2}}')).to.equal('ack th0≤5,th1≤2');
    expect(summarizeFrame('{"v":1,"type":"event","thread":"th0","seq":3,"through":5,"event":{"type":"agent_thinking"}}')).to.equal('event th0#3..5 agent_thinking');
    expect(summarizeFrame('{"v":1,"type":"event","thread":"th0","seq":3}')).to.equal('event th0#3 withheld');
    expect(summarizeFrame('{"v":1,"type":"batch","frames":[{"v":1,"type":"event","thread":"th0","seq":3},{"v":1,"type":"event","thread":"th0","seq":4}]}')).to.equal('batch[2] th0#3..4');
    expect(summarizeFrame('{"v":1,"type":"batch","frames":[{"v":1,"type":"event","thread":"th0","seq":3},{"v":1,"type":"ev')).to.equal('batch[2+] th0#3');
    expect(summarizeFrame('\u0000\u0001garbage')).to.match(/^garbage /);
  });
});

describe('cli/timeline-html', () => {
  it('is one self-contained file: inline CSS and JS, no network, the data as JSON', () => {
    const html = renderHtml(realTrace(), { violations: [] });
    expect(html.startsWith('<!doctype html>')).to.equal(true);
    expect(html).to.not.match(/https?:\/\//);
    expect(html).to.not.match(/\bsrc\s*=/i);
    expect(html).to.not.match(/<link\b/i);
    expect(html).to.not.match(/@import|url\((?!#)/i); // url(#marker) is a reference inside the SVG
    expect(html).to.contain('<style>');
    expect(html.match(/<script\b/g)).to.have.length(2);
    expect(html.match(/<\/script>/g)).to.have.length(2);
    expect(html).to.contain("chartEl.innerHTML = '<svg id=\"svg\"");
    expect(html).to.contain("getElementById('wsim-data')");
    expect(html).to.match(/<\/html>\n$/);
    const data = embedded(html);
    expect(data.lanes.map((l) => l.kind)).to.include.members(['producer', 'hub', 'network', 'session', 'client', 'app']);
    expect(data.arrows.length).to.be.greaterThan(100);
    expect(data.items.some((i) => i[2] === 'st' && i[3].includes('idle → connecting'))).to.equal(true);
  });

  it('draws frames as send → deliver arrows, drops as ✗, duplicates as a second arrow, faults as bands', () => {
    const data = buildHtmlData(HAND_TRACE, { violations: [HAND_VIOLATION] });
    const lane = (label: string) => data.lanes.findIndex((l) => l.label === label);
    const hello = data.arrows.find((a) => a.label === 'hello')!;
    expect(hello).to.include({ l0: lane('client t0/u0/0'), l1: lane('sessions t0/u0/0#*'), fate: 0, c2s: true, dup: false });
    expect(data.rows[hello.r1]).to.equal(10);
    const started = data.arrows.filter((a) => a.label.endsWith('event th0#1 agent_started'));
    expect(started.map((a) => [a.dup, a.fate, data.rows[a.r1]])).to.deep.equal([[false, 0, 25], [true, 0, 27]]);
    const dropped = data.arrows.find((a) => a.label === 'event th0#2 tool_executing')!;
    expect(dropped.fate).to.equal(1);
    expect(data.bands.map((b) => b.cls)).to.include.members(['fault', 'end']);
    expect(data.bands.find((b) => b.cls === 'fault')!.label).to.contain('disconnect');
    expect(data.violation!.lines[0]).to.contain('exactly_once violated at 102 ms');
    expect(data.rows[data.violation!.row]).to.equal(102);
    expect(data.items.some((i) => i[2] === 'bad' && i[3].includes('dead letter'))).to.equal(true);
  });

  it('escapes the data: a frame with </script> or a URL cannot break out or call out', () => {
    const evil = '</script><script>alert(1)</script><!-- https://evil.example/x.js \u2028';
    const trace: TraceRecord[] = [...HAND_TRACE.slice(0, 5), { t: 3, k: 'send', link: 't0/u0/0#1', dir: 'c2s', frame: evil, bytes: 10 }, ...HAND_TRACE.slice(5)];
    const html = renderHtml(trace, { title: 'a </title> title' });
    expect(html.match(/<\/script>/g)).to.have.length(2);
    expect(html).to.not.match(/https?:\/\//);
    expect(html).to.contain('<title>a &lt;/title&gt; title</title>');
    const data = embedded(html);
    expect(data.arrows.some((a) => a.tip.includes('garbage'))).to.equal(true);
    expect(JSON.stringify(data)).to.not.contain('https://evil');
  });

  it('inlines its style and script from cli/timeline/, refusing one that would close its own tag', () => {
    const html = renderHtml(HAND_TRACE);
    for (const [name, tag] of [['timeline.css', 'style'], ['timeline.js', 'script']] as const) {
      const text = readFileSync(new URL(`../../cli/timeline/${name}`, import.meta.url), 'utf8');
      expect(html).to.contain(`<${tag}>\n${text}</${tag}>`);
      expect(inlinable(name, text, tag)).to.equal(text);
      expect(() => inlinable(name, `${text}\n// </${tag.toUpperCase()}>`, tag)).to.throw(`must not contain </${tag}`);
    }
  });

  it('caps what it draws, with a note, around the first violation when it lies beyond the cap', () => {
    const { records, violations } = realWithDuplicate();
    const capped = buildHtmlData(records, { maxRecords: 50 });
    expect(capped.note).to.match(/^Drawing records 1–50 of \d+/);
    const late = { ...violations[0]!, t: records[records.length - 200]!.t };
    const around = buildHtmlData(records, { violations: [late], maxRecords: 100 });
    expect(around.note).to.contain('a window around the first violation');
    expect(around.violation!.row).to.be.at.least(0);
    expect(around.rows[around.violation!.row]).to.equal(late.t);
  });

  it('shows on the network lane what the network did: drops, duplicates and delays', () => {
    const data = buildHtmlData(realTrace(), { violations: [] });
    const network = data.lanes.findIndex((l) => l.kind === 'network');
    const on = (cls: string) => data.items.filter((i) => i[1] === network && i[2] === cls);
    expect(on('drop').length, 'drops').to.be.greaterThan(0);
    expect(on('dup').length, 'duplicates').to.be.greaterThan(0);
    expect(on('delay').length, 'delays').to.be.greaterThan(0);
    expect(on('drop')[0]![3]).to.match(/^✗ (drop|partition|half_open|\w+) /);
    expect(on('delay')[0]![3]).to.match(/^\+[\d.]+ ms late: /);
    expect(on('delay')[0]![4]).to.match(/ms on the way, the plan's latency is [\d.]+ ms$/);
    // the hand trace: the duplicate arrives 2 ms late, the original on time
    const hand = buildHtmlData(HAND_TRACE, {});
    const handNet = hand.lanes.findIndex((l) => l.kind === 'network');
    expect(hand.items.filter((i) => i[1] === handNet).map((i) => i[3])).to.deep.equal(['dup event th0#1 agent_started', '+2 ms late: dup event th0#1 agent_started', '✗ drop event th0#2 tool_executing']);
  });

  it('draws the hub routing each event to the sessions that send it, from its production onwards', () => {
    const data = buildHtmlData(realTrace(), { violations: [] });
    const hub = data.lanes.findIndex((l) => l.kind === 'hub');
    const routes = data.arrows.filter((a) => a.route);
    expect(routes.length).to.be.greaterThan(20);
    for (const a of routes) {
      expect(a.l0).to.equal(hub);
      expect(data.lanes[a.l1]!.kind).to.equal('session');
      expect(a.r1).to.be.at.least(a.r0);
      expect(a.tip).to.match(/^hub routes \S+#\d+ \(\w+, \w+\/\w+\) to session \S+#\d+$/);
    }
    // one arrow per (event, session lane): retransmissions are not routing
    const keys = routes.map((a) => `${a.tip.split(' ')[2]}@${a.l1}`);
    expect(new Set(keys).size).to.equal(keys.length);
  });

  it('marks the offending delivery red, and the violation panel tells the same story', () => {
    const data = buildHtmlData(HAND_TRACE, { violations: [HAND_VIOLATION] });
    const item = data.items[data.violation!.item!]!;
    expect(item[2]).to.equal('bad');
    expect(data.rows[item[0]]).to.equal(102);
    expect(item[4]).to.match(/^VIOLATION exactly_once: t0\/u0\/0 received r0#2 \(tool_completed\) twice/);
    // the first delivery of the same event stays green
    expect(data.items.filter((i) => i[3].endsWith('tool_completed r0#2')).map((i) => i[2])).to.deep.equal(['app', 'bad']);
  });

  it('explains a violation with the event of the right owner when run ids collide across tenants', () => {
    const C2 = 't1/u0/0';
    const event = (tenant: string): Extract<TraceRecord, { k: 'produce' }> => ({ t: 1, k: 'produce', tenant, user: 'u0', thread: 'th0', run: 'r0', idx: 0, type: 'agent_started', sensitivity: 'public', bytes: 1, hash: `h-${tenant}` });
    const trace: TraceRecord[] = [
      { t: 0, k: 'run', scenario: 'collide', seed: 3, faultPlan: {} },
      { t: 0, k: 'conn', conn: 't0/u0/0', tenant: 't0', user: 'u0', role: 'admin', endpoint: 't0/u0/0' },
      { t: 0, k: 'conn', conn: C2, tenant: 't1', user: 'u0', role: 'admin', endpoint: C2 },
      event('t0'),
      event('t1'),
      { t: 9, k: 'app', conn: 't0/u0/0', tenant: 't1', user: 'u0', thread: 'th0', run: 'r0', idx: 0, type: 'agent_started', seq: 1, sensitivity: 'public', redacted: false, hash: 'h-t1', receivedHash: 'h-t1' },
    ];
    const v: Violation = { invariant: 'isolation', t: 9, conn: 't0/u0/0', message: 'event r0#0 of t1/u0 reached t0/u0/0, owned by t0/u0' };
    const lines = buildHtmlData(trace, { violations: [v] }).violation!.lines;
    expect(lines).to.include('event r0#0: agent_started, produced at 1 ms for t1/u0 on thread th0 (public)');
    expect(lines.join('\n')).to.not.contain('for t0/u0');
    expect(lines).to.include('t0/u0/0 received it at 9 ms (seq 1); run r0 as received: #0');
  });

  it('renders in headless Chromium', async function () {
    requireChromium(this); // skips only on a dev machine without /usr/bin/chromium; in CI a missing one fails
    this.timeout(120_000);
    const { records, violations } = realWithDuplicate();
    const dir = mkdtempSync(join(tmpdir(), 'wsim-html-'));
    try {
      const file = join(dir, 'timeline.html');
      writeFileSync(file, renderHtml(records, { violations }));
      const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--window-size=1400,900'];
      const dom = await run(CHROMIUM, [...flags, `--user-data-dir=${join(dir, 'p1')}`, '--dump-dom', `file://${file}`], { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
      const drawn = /data-drawn="(\d+)"/.exec(dom.stdout);
      expect(drawn, 'the drawing script ran to its end').to.not.equal(null);
      expect(Number(drawn![1])).to.be.greaterThan(500);
      expect(dom.stdout).to.contain('<svg id="svg"');
      expect(dom.stdout).to.contain('VIOLATION exactly_once');
      const png = join(dir, 'shot.png');
      await run(CHROMIUM, [...flags, `--user-data-dir=${join(dir, 'p2')}`, `--screenshot=${png}`, `file://${file}#violation`], { timeout: 60_000 });
      expect(existsSync(png)).to.equal(true);
      expect(statSync(png).size).to.be.greaterThan(40_000);
      expect(readFileSync(png).subarray(1, 4).toString()).to.equal('PNG');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
