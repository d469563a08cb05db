/**
 * `wsim serve --demo` in headless Chromium: the page is served by the server
 * itself, the built-in producer's runs arrive live, the connection state and
 * counters show, and "Drop connection" drops and reconnects. With
 * WSIM_SCREENSHOT=FILE it also saves the screenshot README shows.
 */
import { expect } from 'chai';
import { serveAndChromium } from './chromium.ts';

const text = (selector: string) => `document.querySelector(${JSON.stringify(selector)}).textContent`;

describe('browser: the demo page of wsim serve --demo', function () {
  this.timeout(90_000);
  const start = serveAndChromium();

  it('shows runs arriving live, the connection state and counters; the drop button reconnects', async function () {
    const { serving, browser } = await start(this, { tokens: {}, demo: true, publishSecret: undefined });
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 330 });
    await page.goto(`${serving.url}/`);
    await page.waitForFunction(`${text('#state')} === 'open'`, { timeout: 20_000 });
    // the producer starts a run every 2.5 s, each one 7 to 9 events 400 ms apart
    // the counters are drawn every 250 ms, the runs as they arrive: a page that subscribes after two
    // runs ended gets both at once, before the counter's next tick (a loaded CI machine did)
    await page.waitForFunction(`document.querySelectorAll('.run.done').length >= 2 && Number(${text('#received')}) > 10`, { timeout: 30_000 });
    const received = Number(await page.evaluate(text('#received')));
    expect(received).to.be.greaterThan(10);
    const steps = (await page.evaluate(`[...document.querySelectorAll('.run.done')].map((r) => [...r.querySelectorAll('li')].map((li) => li.className).join(' '))`)) as string[];
    for (const run of steps) expect(run).to.match(/^agent_started agent_thinking (tool_executing tool_completed )+agent_thinking agent_completed$/);

    await page.click('#drop');
    await page.waitForFunction(`${text('#reconnects')} !== '0'`, { timeout: 20_000 });
    await page.waitForFunction(`${text('#state')} === 'open'`, { timeout: 20_000 });
    await page.waitForFunction(`Number(${text('#received')}) > ${received + 3}`, { timeout: 20_000 });
    if (process.env.WSIM_SCREENSHOT) await page.screenshot({ path: process.env.WSIM_SCREENSHOT as `${string}.png` });
  });
});
