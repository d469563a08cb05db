/**
 * Events per second through POST /v1/publish, one event per request and in
 * batches, on loopback with the server in this process (a connected client
 * acknowledging everything). Printed for the README; the floors only catch a
 * collapse (an O(n²) ledger, a per-request stall), not a slow machine.
 */
import { expect } from 'chai';
import type { Serving } from '../../cli/serve-start.ts';
import { createWsimClient, type WsimClient } from '../../src/client.ts';
import { event, post, serve } from './fixtures.ts';

const SINGLE = 1000;
const BATCHES = 20;
const BATCH = 1000;

describe('serve: publish rate', function () {
  this.timeout(60_000);
  let serving: Serving;
  let client: WsimClient;
  let received = 0;

  before(async () => {
    serving = await serve();
    client = createWsimClient({ url: serving.ws, token: 'ada-token', threads: ['th1'], onEvent: () => void received++ }).start();
  });
  after(async () => {
    client.stop();
    await serving.close();
  });

  /** Events of runs of four (started, tool call, completed), `n` of them, run names from `prefix`. */
  const events = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => event(`${prefix}-${Math.floor(i / 4)}`, i % 4));

  it(`one event per request (${SINGLE}) and batches of ${BATCH} (${BATCHES * BATCH} events): events per second`, async () => {
    const singles = events('single', SINGLE);
    let t0 = performance.now();
    for (const e of singles) expect((await post(serving, '/v1/publish', e)).status).to.equal(200);
    const singleRate = SINGLE / ((performance.now() - t0) / 1000);

    const batched = events('batch', BATCHES * BATCH);
    t0 = performance.now();
    for (let i = 0; i < BATCHES; i++) expect((await post(serving, '/v1/publish', batched.slice(i * BATCH, (i + 1) * BATCH))).status).to.equal(200);
    const batchRate = (BATCHES * BATCH) / ((performance.now() - t0) / 1000);

    console.log(`      POST /v1/publish: ${Math.round(singleRate)} events/s one per request, ${Math.round(batchRate)} events/s in batches of ${BATCH}`);
    expect(serving.wsim.stats().published).to.equal(SINGLE + BATCHES * BATCH);
    expect(singleRate).to.be.greaterThan(100);
    expect(batchRate).to.be.greaterThan(2000);
    const deadline = Date.now() + 20_000;
    while (received < SINGLE + BATCHES * BATCH && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(received, 'the connected client got every event').to.equal(SINGLE + BATCHES * BATCH);
  });
});
