/**
 * The HTTP API of `wsim serve` (started as the command starts it): publishing
 * is idempotent and checked against the run contract, every bad input gets
 * one typed JSON error and appends nothing, roles change what the next event
 * shows, and /healthz and /metrics answer.
 */
import { expect } from 'chai';
import type { Serving } from '../../cli/serve-start.ts';
import type { AgentEvent } from '../../machines/frames.ts';
import { createWsimClient, type WsimClient } from '../../src/client.ts';
import { event, post, serve } from './fixtures.ts';

async function until(what: string, check: () => boolean, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) expect.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('serve: the HTTP API', function () {
  this.timeout(30_000);
  let serving: Serving;
  let client: WsimClient | undefined;
  const received: { seq: number; event: AgentEvent }[] = [];

  beforeEach(async () => {
    received.length = 0;
    serving = await serve();
  });

  afterEach(async () => {
    client?.stop();
    client = undefined;
    await serving.close();
  });

  const connect = async (threads = ['th1']) => {
    client = createWsimClient({ url: serving.ws, token: 'ada-token', threads, onEvent: (e, { seq }) => received.push({ seq, event: e }) }).start();
    await until('the client to be open', () => client!.state === 'open');
  };

  it('publishes one event or a batch and answers each event’s thread and seq', async () => {
    const one = await post(serving, '/v1/publish', event('r1', 0));
    expect(one).to.deep.equal({ status: 200, body: { accepted: [{ thread: 'th1', seq: 1 }] } });
    const batch = await post(serving, '/v1/publish', [event('r1', 1), event('r1', 2), event('r1', 3)]);
    expect(batch.body).to.deep.equal({ accepted: [2, 3, 4].map((seq) => ({ thread: 'th1', seq })) });
  });

  it('is idempotent on (tenant, user, thread, run, idx): a retry gets the same seq and the app gets the event once', async () => {
    await connect();
    const first = await post(serving, '/v1/publish', [event('r1', 0), event('r1', 1)]);
    const retry = await post(serving, '/v1/publish', [event('r1', 0), event('r1', 1), event('r1', 2)]);
    expect(retry.body.accepted).to.deep.equal([...first.body.accepted, { thread: 'th1', seq: 3 }]);
    await until('three events', () => received.length >= 3);
    await new Promise((r) => setTimeout(r, 200));
    expect(received.map((r) => [r.seq, r.event.run, r.event.idx])).to.deep.equal([
      [1, 'r1', 0],
      [2, 'r1', 1],
      [3, 'r1', 2],
    ]);
    expect(serving.wsim.stats()).to.include({ published: 3, repeats: 2 });
  });

  const refusals: [string, unknown, number, { code: string; field?: string }][] = [
    ['malformed JSON', '{"tenant":', 400, { code: 'malformed_json' }],
    ['an unknown field', event('r1', 0, { colour: 'red' }), 400, { code: 'unknown_field', field: 'colour' }],
    ['a wrong type', event('r1', 0, { idx: '0' }), 400, { code: 'bad_field', field: 'idx' }],
    ['an unknown event type', event('r1', 0, { type: 'agent_dancing' }), 400, { code: 'bad_field', field: 'type' }],
    ['a tool event without toolId', event('r1', 0, { type: 'tool_executing', toolId: undefined }), 400, { code: 'bad_field', field: 'toolId' }],
    ['tool_completed without its tool_executing', event('r1', 0, { type: 'tool_completed', toolId: 'x' }), 400, { code: 'illegal_order', field: 'type' }],
    ['an event after a gap in idx', event('r1', 2), 400, { code: 'out_of_order', field: 'idx' }],
    ['a bad event inside a batch', [event('r1', 0), event('r1', 1, { user: '' })], 400, { code: 'bad_field', field: '[1].user' }],
    ['an empty batch', [], 400, { code: 'bad_request' }],
    ['an oversized payload', event('r1', 0, { payload: 'x'.repeat(1024 * 1024 + 1) }), 413, { code: 'too_large', field: 'payload' }],
  ];
  for (const [what, body, status, error] of refusals) {
    it(`refuses ${what} with ${status} and one typed error, appending nothing`, async () => {
      const answer = await post(serving, '/v1/publish', body);
      expect(answer.status).to.equal(status);
      expect(answer.body.error).to.include(error);
      expect(answer.body.error.message).to.be.a('string').and.not.match(/\n\s+at /);
      // nothing of it was appended: the run still starts at seq 1
      expect((await post(serving, '/v1/publish', event('r1', 0))).body.accepted).to.deep.equal([{ thread: 'th1', seq: 1 }]);
    });
  }

  it('a batch refused by the run contract puts its runs back: none of it is appended, the runs go on from where they stood', async () => {
    await post(serving, '/v1/publish', event('r0', 0));
    const refused = await post(serving, '/v1/publish', [event('r0', 1), event('r1', 0), event('r1', 1), event('r1', 2, { toolId: 'y' })]);
    expect(refused.status).to.equal(400);
    expect(refused.body.error).to.include({ code: 'illegal_order', field: 'type' });
    expect(refused.body.error.message).to.contain('tool y was never started');
    const after = await post(serving, '/v1/publish', [event('r1', 0), event('r1', 1), event('r0', 1)]);
    expect(after.body.accepted.map((a: { seq: number }) => a.seq)).to.deep.equal([2, 3, 4]);
  });

  it('a completed run takes no new event, and its retries still answer their seqs', async () => {
    const run = await post(serving, '/v1/publish', [0, 1, 2, 3].map((idx) => event('r1', idx)));
    expect(run.status).to.equal(200);
    const late = await post(serving, '/v1/publish', event('r1', 4, { type: 'agent_thinking' }));
    expect(late.status).to.equal(400);
    expect(late.body.error.message).to.contain('the run is completed');
    expect((await post(serving, '/v1/publish', event('r1', 3))).body.accepted).to.deep.equal([{ thread: 'th1', seq: 4 }]);
  });

  it('refuses a retry whose content differs (400 conflicting_retry)', async () => {
    await post(serving, '/v1/publish', event('r1', 0));
    const answer = await post(serving, '/v1/publish', event('r1', 0, { payload: 'something else' }));
    expect(answer).to.deep.include({ status: 400 });
    expect(answer.body.error.code).to.equal('conflicting_retry');
  });

  it('401 without the secret, with a wrong one, and when the server has none', async () => {
    expect((await post(serving, '/v1/publish', event('r1', 0), null)).status).to.equal(401);
    const wrong = await post(serving, '/v1/publish', event('r1', 0), 'nope');
    expect(wrong.status).to.equal(401);
    expect(wrong.body.error.code).to.equal('unauthorized');
    expect((await post(serving, '/v1/roles', { tenant: 'acme', user: 'ada', role: 'admin' }, 'nope')).status).to.equal(401);
    const open = await serve({ publishSecret: undefined });
    try {
      expect((await post(open, '/v1/publish', event('r1', 0), '')).status).to.equal(401);
    } finally {
      await open.close();
    }
    expect(serving.wsim.stats().published).to.equal(0);
  });

  it('413 for a body over the limit, 429 over the publish rate', async () => {
    const small = await serve({ maxBodyBytes: 1000, publishRate: { burst: 3, perSecond: 1 } });
    try {
      const big = await post(small, '/v1/publish', event('r1', 0, { payload: 'y'.repeat(2000) }));
      expect(big.status).to.equal(413);
      expect(big.body.error.code).to.equal('too_large');
      expect((await post(small, '/v1/publish', [event('r1', 0), event('r1', 1)])).status).to.equal(200);
      const limited = await post(small, '/v1/publish', [event('r1', 2), event('r1', 3)]);
      expect(limited.status).to.equal(429);
      expect(limited.body.error.code).to.equal('rate_limited');
      expect(small.wsim.stats().published).to.equal(2);
    } finally {
      await small.close();
    }
  });

  it('POST /v1/roles changes what the next event shows', async () => {
    await connect();
    await post(serving, '/v1/publish', [event('r1', 0, { sensitivity: 'restricted', payload: 'secret plan' }), event('r1', 1, { payload: 'public call' })]);
    await until('the public event', () => received.length >= 1);
    const changed = await post(serving, '/v1/roles', { tenant: 'acme', user: 'ada', role: 'admin' });
    expect(changed).to.deep.equal({ status: 200, body: { tenant: 'acme', user: 'ada', role: 'admin' } });
    await post(serving, '/v1/publish', [event('r1', 2, { sensitivity: 'restricted', payload: 'secret result' })]);
    await until('the restricted event', () => received.length >= 2);
    // a viewer has restricted events withheld (the stream still advances), an admin sees them
    expect(received.map((r) => [r.seq, r.event.payload])).to.deep.equal([
      [2, 'public call'],
      [3, 'secret result'],
    ]);
    const bad = await post(serving, '/v1/roles', { tenant: 'acme', user: 'ada', role: 'root' });
    expect(bad.status).to.equal(400);
    expect(bad.body.error).to.include({ code: 'bad_field', field: 'role' });
  });

  it('GET /healthz and /metrics (Prometheus text); 404 and 405 as JSON errors', async () => {
    await connect();
    await post(serving, '/v1/publish', [event('r1', 0), event('r1', 1)]);
    await until('two events', () => received.length >= 2);
    await new Promise((r) => setTimeout(r, 150)); // the client's batched ack
    const health = await fetch(`${serving.url}/healthz`);
    expect(health.status).to.equal(200);
    expect(await health.json()).to.deep.equal({ status: 'ok', connections: 1 });
    const metrics = await fetch(`${serving.url}/metrics`);
    expect(metrics.headers.get('content-type')).to.match(/^text\/plain/);
    const text = await metrics.text();
    for (const line of ['wsim_connections 1', 'wsim_sessions 1', 'wsim_published_total 2', 'wsim_delivered_total 2', 'wsim_publish_requests_total{status="200"} 1'])
      expect(text).to.contain(line);
    const missing = await fetch(`${serving.url}/v2/nothing`);
    expect(missing.status).to.equal(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).to.equal('not_found');
    const wrongMethod = await fetch(`${serving.url}/v1/publish`);
    expect(wrongMethod.status).to.equal(405);
  });
});
