/**
 * A throwaway Debian `redis-server` for the cluster bench and the specs: loopback, a free port, no
 * persistence (`--save "" --appendonly no`), in a temp dir; killed by `stop`
 * (and by the process's exit, so a failed spec leaves nothing running).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const READY = /Ready to accept connections/;
const START_TIMEOUT_MS = 5000;
const POLL_LIMIT_MS = 15_000;

/** Real time passes while Redis works: wait for `done()`, bounded, one line when it never holds. */
export async function poll(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + POLL_LIMIT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${POLL_LIMIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export class RedisServer {
  private child: ChildProcess | undefined;
  private readonly onExit = (): void => void this.child?.kill('SIGKILL');

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {
    process.on('exit', this.onExit);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), mkdtempSync(join(tmpdir(), 'wsim-redis-')));
    await server.launch();
    return server;
  }

  /** Kill it (SIGKILL: no chance to save) and start it again on the same port: all data is gone. */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  async stop(): Promise<void> {
    await this.kill();
    process.off('exit', this.onExit);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** SIGKILL, and wait for the exit (a no-op when it is not running). */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Start it on its port, resolved once it accepts connections. */
  launch(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--loglevel', 'notice'];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    return new Promise((resolve, reject) => {
      let output = '';
      const fail = (why: string): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Error(`redis-server on port ${this.port} did not start: ${why}`));
      };
      const timer = setTimeout(() => fail(`not ready after ${START_TIMEOUT_MS} ms: ${output.slice(-300)}`), START_TIMEOUT_MS);
      child.on('error', (error) => fail(`${error.message} (is Debian's redis-server installed?)`));
      child.on('exit', (code) => fail(`exited with ${code}: ${output.slice(-300)}`));
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (!READY.test(output)) return;
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve();
      });
    });
  }
}
