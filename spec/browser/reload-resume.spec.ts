/**
 * The browser client in a real browser: a page using the browser bundle
 * connects to `wsim serve` (the same start-up the command runs, in-process so
 * the test can cut sockets from the server side). The test publishes agent
 * runs over HTTP, terminates the page's socket from the server side several
 * times and reloads the page once mid-run. The page's app (which keeps what
 * it received in sessionStorage, as an app would keep its state) must hold
 * every published event exactly once, in order, with no gap announced.
 */
import { expect } from 'chai';
import type { Page } from 'puppeteer-core';
import type { Serving } from '../../cli/serve-start.ts';
import { browserBundle, serveAndChromium } from './chromium.ts';

const SECRET = 'browser-spec-secret';
const THREADS = ['t1', 't2'];
const RUNS = 16;
const CUTS = 3;

/** What the page runs: the bundle's public API only, persist on. */
const APP_PAGE = `<!doctype html><meta charset="utf-8"><title>app</title>
<script type="module">
import { createWsimClient } from '/wsim-client.js';
const got = JSON.parse(sessionStorage.getItem('app') || '[]');
window.app = got;
window.loads = Number(sessionStorage.getItem('loads') || 0) + 1;
sessionStorage.setItem('loads', String(window.loads));
window.resyncs = [];
window.client = createWsimClient({
  url: 'ws://' + location.host + '/ws', token: 'tab', threads: ${JSON.stringify(THREADS)}, persist: true,
  onEvent(event, info) {
    got.push([info.thread, info.seq, event.run, event.idx, event.type]);
    sessionStorage.setItem('app', JSON.stringify(got));
  },
  onResync(info) { window.resyncs.push(info); },
  onState(state) { window.state = state; },
}).start();
</script>`;

type Received = [thread: string, seq: number, run: string, idx: number, type: string];

/** A run of 7 events: started, thinking, a tool call, thinking, a second tool call, completed. */
function runEvents(n: number): Record<string, unknown>[] {
  const base = { tenant: 'acme', user: 'ada', thread: THREADS[n % THREADS.length], run: `run-${n}` };
  const steps = [
    { type: 'agent_started' },
    { type: 'agent_thinking', payload: 'hmm' },
    { type: 'tool_executing', toolId: 'a' },
    { type: 'tool_completed', toolId: 'a', payload: 'result a' },
    { type: 'tool_executing', toolId: 'b' },
    { type: 'tool_completed', toolId: 'b', payload: 'result b'.repeat(n) },
    { type: 'agent_completed', payload: `answer ${n}` },
  ];
  return steps.map((step, idx) => ({ ...base, idx, ...step }));
}

async function publish(serving: Serving, events: unknown[]): Promise<{ thread: string; seq: number }[]> {
  const res = await fetch(`${serving.url}/v1/publish`, { method: 'POST', headers: { authorization: `Bearer ${SECRET}` }, body: JSON.stringify(events) });
  const body = (await res.json()) as { accepted: { thread: string; seq: number }[] };
  expect(res.status, JSON.stringify(body)).to.equal(200);
  return body.accepted;
}

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) expect.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('browser: the bundle in headless Chromium against wsim serve', function () {
  this.timeout(90_000);
  const start = serveAndChromium();

  it('the app holds every event exactly once and in order through server-side cuts and a reload mid-run', async function () {
    const { serving, browser } = await start(this, { tokens: { tab: { tenant: 'acme', user: 'ada', role: 'admin', threads: '*' } }, demo: false, publishSecret: SECRET });
    const bundle = await browserBundle();
    const page: Page = await browser.newPage();
    await page.setRequestInterception(true);
    page.on('request', (request) => {
      const path = new URL(request.url()).pathname;
      if (path === '/app.html') void request.respond({ status: 200, contentType: 'text/html', body: APP_PAGE });
      else if (path === '/wsim-client.js') void request.respond({ status: 200, contentType: 'text/javascript', body: bundle });
      else void request.continue();
    });
    if (process.env.WSIM_DEBUG) page.on('console', (m) => console.log('page:', m.text())).on('pageerror', (e) => console.log('pageerror:', e));
    const open = () => until('the page to be open', async () => (await page.evaluate('window.state')) === 'open');
    await page.goto(`${serving.url}/app.html`);
    await open();

    // publish the runs interleaved, event by event in small batches, cutting and reloading on the way
    const runs = Array.from({ length: RUNS }, (_, n) => runEvents(n));
    const published: Received[] = [];
    const steps = 7;
    let cuts = 0;
    for (let idx = 0; idx < steps; idx++) {
      for (let half = 0; half < 2; half++) {
        const batch = runs.filter((_, n) => n % 2 === half).map((events) => events[idx]!);
        const accepted = await publish(serving, batch);
        accepted.forEach(({ thread, seq }, i) => published.push([thread, seq, batch[i]!.run as string, idx, batch[i]!.type as string]));
        await pause(40);
      }
      if (idx === 1 || idx === 3 || idx === 5) {
        expect(serving.wsim.disconnect({ tenant: 'acme', user: 'ada' }), 'the page had a socket to cut').to.equal(1);
        cuts++;
        await pause(30);
      }
      if (idx === 4) {
        await page.reload();
        await open();
      }
    }
    expect(cuts).to.equal(CUTS);

    await until('every event in the app', async () => ((await page.evaluate('window.app.length')) as number) >= published.length);
    await pause(300); // a late duplicate would land here
    const app = (await page.evaluate('window.app')) as Received[];
    const loads = (await page.evaluate('window.loads')) as number;
    const resyncs = (await page.evaluate('window.resyncs')) as unknown[];
    const stats = (await page.evaluate('window.client.stats()')) as { reconnects: number };

    expect(loads, 'the page was reloaded once').to.equal(2);
    expect(resyncs, 'no gap was announced').to.deep.equal([]);
    expect(stats.reconnects, 'the cuts after the reload were reconnected').to.be.at.least(1);
    for (const thread of THREADS) {
      const got = app.filter((r) => r[0] === thread);
      const sent = published.filter((r) => r[0] === thread).sort((a, b) => a[1] - b[1]);
      expect(got, `thread ${thread}: exactly once, in publish order`).to.deep.equal(sent);
    }
    expect(app.length).to.equal(RUNS * steps);
    console.log(`      delivered ${app.length} events (${RUNS} runs × ${steps}) through ${CUTS} server-side cuts and 1 reload`);
  });
});
