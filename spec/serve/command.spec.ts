/**
 * `wsim serve` as a process: the listening line (plain and --json), SIGTERM
 * sends 1001 to every client and exits 0 within 5 s, and a bad tokens file, a
 * busy port, a bad flag or an unreachable --redis is one line on stderr and exit 2.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import WebSocket from 'ws';

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function wsim(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

function exited(child: ChildProcess, ms = 20_000): Promise<Exit> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`wsim serve did not exit within ${ms} ms; stderr: ${stderr}`));
    }, ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The first stdout line of a starting server. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('no listening line within 20 s')), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out.slice(0, out.indexOf('\n')));
      }
    });
  });
}

describe('serve: the wsim serve command', function () {
  this.timeout(60_000);
  let dir: string;
  const children: ChildProcess[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'wsim-serve-'));
  });
  after(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints its listening line, sends 1001 to every client on SIGTERM and exits 0 within 5 s', async () => {
    const tokens = join(dir, 'tokens.json');
    writeFileSync(tokens, JSON.stringify({ t1: { tenant: 'acme', user: 'ada', role: 'admin', threads: '*' } }));
    const child = wsim(['--port', '0', '--tokens', tokens]);
    children.push(child);
    const line = await firstLine(child);
    const match = /^wsim serve listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
    expect(match, line).to.not.equal(null);
    const socket = new WebSocket(`${match![1]!.replace('http', 'ws')}/ws`, { headers: { authorization: 'Bearer t1' } });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    const exit = exited(child);
    const sent = Date.now();
    child.kill('SIGTERM');
    expect(await closed).to.equal(1001);
    const { code } = await exit;
    expect(code).to.equal(0);
    expect(Date.now() - sent).to.be.below(5000);
  });

  it('--json prints one object {url, ws, node}', async () => {
    const child = wsim(['--port', '0', '--json']);
    children.push(child);
    const info = JSON.parse(await firstLine(child)) as Record<string, string>;
    expect(Object.keys(info)).to.deep.equal(['url', 'ws', 'node']);
    expect(info.ws).to.equal(`${info.url!.replace('http:', 'ws:')}/ws`);
    const exit = exited(child);
    child.kill('SIGTERM');
    expect((await exit).code).to.equal(0);
  });

  const oneLine = async (args: string[], pattern: RegExp) => {
    const { code, stdout, stderr } = await exited(wsim(args));
    expect(code).to.equal(2);
    expect(stdout).to.equal('');
    expect(stderr.trim().split('\n'), stderr).to.have.length(1);
    expect(stderr).to.match(pattern);
    expect(stderr).to.not.match(/\n\s+at /);
  };

  it('a bad tokens file: one line, exit 2', async () => {
    const notJson = join(dir, 'bad.json');
    writeFileSync(notJson, '{ nope');
    await oneLine(['--tokens', notJson], /^wsim serve: bad tokens file .*bad\.json: not JSON/);
    const badRole = join(dir, 'role.json');
    writeFileSync(badRole, JSON.stringify({ t: { tenant: 'a', user: 'b', role: 'root', threads: '*' } }));
    await oneLine(['--tokens', badRole], /token "t": role must be one of viewer, analyst, admin/);
    await oneLine(['--tokens', join(dir, 'missing.json')], /cannot read it \(ENOENT\)/);
  });

  it('an occupied port: one line, exit 2', async () => {
    const busy = http.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = busy.address() as { port: number };
      await oneLine(['--port', String(port)], new RegExp(`^wsim serve: 127\\.0\\.0\\.1:${port} is already in use`));
    } finally {
      busy.close();
    }
  });

  it('bad flags and --redis: one line, exit 2', async () => {
    await oneLine(['--port', 'eighty'], /--port.*must be a port number/);
    await oneLine(['--frobnicate'], /unknown option '--frobnicate'/);
    // port 1: nothing listens there, so the Redis check fails fast
    await oneLine(['--redis', 'redis://127.0.0.1:1'], /^wsim serve: redis at redis:\/\/127\.0\.0\.1:1 is unreachable/);
  });
});
