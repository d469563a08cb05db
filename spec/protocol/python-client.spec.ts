/**
 * The point of PROTOCOL.md: a client in another language, written from the
 * document alone. `doc_client.py` is Python with the standard library only
 * (python3 is on every machine of this project), and its payload_hash is the
 * document's own Python block, run as written. It talks to the real server on
 * 127.0.0.1:0; the spec publishes once it is subscribed and judges what it got.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { payloadHash } from '../../machines/hash.ts';
import { RealWorld, runEvents, tokenOf } from '../transport/harness.ts';
import { ROOT } from './protocol-doc.ts';

interface Summary {
  welcome: { type: string; epoch: string };
  subscribed: { thread: string; from: number; recovered: boolean };
  received: Array<[number, string, number, number]>;
  chunks: number;
  pong: number;
  problems: string[];
}

/**
 * Run the Python client: `onReady` once it is subscribed, `onSettled` once
 * everything is acknowledged (it waits for that to return before it leaves);
 * its summary line, or a failure with its stderr.
 */
function runPythonClient(args: string[], onReady: () => void, onSettled: () => void, timeoutMs: number): Promise<Summary> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [path.join(ROOT, 'spec/protocol/doc_client.py'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    let stderr = '';
    let last = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === '{"ready": true}') onReady();
      else if (line === '{"settled": true}') {
        onSettled();
        child.stdin.end('\n');
      } else last = line;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(JSON.parse(last) as Summary);
      else reject(new Error(`doc_client.py exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

describe('protocol: a client in Python', function () {
  this.timeout(30_000);
  let world: RealWorld | undefined;

  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it('a Python client written from PROTOCOL.md alone (standard library, the document\'s own payload_hash) gets every event once, in order, intact', async () => {
    world = await RealWorld.start({ users: [{ tenant: 'acme', user: 'ada' }] });
    const w = world;
    // a tool result in every plane of Unicode, large enough to be chunked
    const big = 'naïve ✓ 😀 "q" \\ \t\n'.repeat(12_000);
    const [started, thinking, executing, completed, done] = runEvents('acme', 'ada', 'th1', 'r1');
    const events = [...runEvents('acme', 'ada', 'th1', 'r0'), started!, thinking!, executing!, { ...completed!, payload: big, hash: payloadHash(big) }, done!];
    let acked: number | undefined;
    const summary = await runPythonClient(
      [w.server.url, tokenOf('acme', 'ada'), 'th1', String(events.length), path.join(ROOT, 'PROTOCOL.md')],
      () => w.publish(events),
      () => (acked = [...w.hub.getSnapshot().context.sessions.values()][0]?.getSnapshot().context.streams['th1']?.acked),
      20_000,
    );
    expect(summary.problems).to.deep.equal([]);
    expect(summary.welcome.type).to.equal('welcome');
    expect(summary.subscribed).to.deep.include({ thread: 'th1', from: 1, recovered: false });
    // lengths in code points: Python's, while the hash runs over UTF-16 code units
    expect(summary.received).to.deep.equal(events.map((e, i) => [i + 1, e.run, e.idx, [...e.payload].length]));
    expect(summary.chunks).to.be.greaterThan(1);
    expect(summary.pong).to.equal(7);
    // every sequence was acknowledged: nothing was left in flight on the server
    expect(acked).to.equal(events.length);
  });
});
