/**
 * The real cluster for a spec: `wsim serve --redis` children on port 0, and a
 * TCP load balancer that sends each connection to a random live node (what
 * any L4 balancer does). Everything started here is killed by `stopAll`
 * (and by the process's exit), so a failed spec leaves nothing running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const START_TIMEOUT_MS = 20_000;
export const SECRET = 'cluster-secret';
export const TOKEN = 'ada-token';

export interface Node {
  name: string;
  child: ChildProcess;
  /** http://127.0.0.1:port */
  url: string;
  port: number;
  alive: boolean;
}

/** Start one `wsim serve --redis URL --json` node; resolves on its listening line. */
export function startNode(redisUrl: string, name: string, tokensFile: string): Promise<Node> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'serve', '--port', '0', '--json', '--redis', redisUrl, '--node', name, '--tokens', tokensFile], {
    env: { ...process.env, WSIM_PUBLISH_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const kill = (): void => void child.kill('SIGKILL');
  process.once('exit', kill);
  child.once('exit', () => process.off('exit', kill));
  return new Promise((resolve, reject) => {
    let errors = '';
    child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`node ${name} did not listen within ${START_TIMEOUT_MS} ms: ${errors.slice(-300)}`));
    }, START_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node ${name} exited ${code}: ${errors.slice(-300)}`));
    });
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      const { url } = JSON.parse(line) as { url: string };
      const node: Node = { name, child, url, port: Number(new URL(url).port), alive: true };
      child.once('exit', () => (node.alive = false));
      resolve(node);
    });
  });
}

/** SIGKILL (no goodbye: its sockets just die), resolved once it exited. */
export async function killNode(node: Node): Promise<void> {
  if (!node.alive) return;
  const exited = new Promise((resolve) => node.child.once('exit', resolve));
  node.child.kill('SIGKILL');
  await exited;
}

export function tokensFile(): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'wsim-cluster-'));
  const path = join(dir, 'tokens.json');
  writeFileSync(path, JSON.stringify({ [TOKEN]: { tenant: 'acme', user: 'ada', role: 'admin', threads: '*' } }));
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An L4 balancer: each connection goes to a random live node; when either side dies, so does the other. */
export class LoadBalancer {
  private readonly server = net.createServer((socket) => this.forward(socket));
  private readonly sockets = new Set<net.Socket>();
  /** Open connections per node name. */
  readonly open = new Map<string, number>();
  port = 0;

  constructor(
    private readonly nodes: () => Node[],
    private readonly random: () => number,
  ) {}

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  private forward(socket: net.Socket): void {
    const live = this.nodes().filter((n) => n.alive);
    if (live.length === 0) return void socket.destroy();
    const node = live[Math.floor(this.random() * live.length)]!;
    const upstream = net.connect(node.port, '127.0.0.1');
    this.sockets.add(socket).add(upstream);
    this.open.set(node.name, (this.open.get(node.name) ?? 0) + 1);
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      this.open.set(node.name, this.open.get(node.name)! - 1);
      socket.destroy();
      upstream.destroy();
      this.sockets.delete(socket);
      this.sockets.delete(upstream);
    };
    for (const s of [socket, upstream]) {
      s.on('error', close);
      s.on('close', close);
    }
    socket.pipe(upstream);
    upstream.pipe(socket);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
