/**
 * `wsim serve`: the protocol's server as a process. WS /ws for browsers and
 * apps, POST /v1/publish and /v1/roles for producers (Bearer
 * WSIM_PUBLISH_SECRET), /healthz, /metrics, and with --demo a live page fed
 * by a fake producer. Prints one line once listening; SIGTERM sends 1001 to
 * every client and exits 0. Bad flags, a bad tokens file or a busy port: one
 * line on stderr, exit 2.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { usage } from './options.ts';
import type { Serving } from './serve-start.ts';
import { loadTokens, type Tokens } from './serve-tokens.ts';

interface ServeFlags {
  host: string;
  port: number;
  tokens?: string;
  redis?: string;
  node?: string;
  demo?: boolean;
  json?: boolean;
}

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 65535) throw new InvalidArgumentError(`must be a port number 0–65535, got "${value}"`);
  return n;
}

const SHUTDOWN_LIMIT_MS = 5000;

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve the protocol: WS /ws, POST /v1/publish and /v1/roles, /healthz, /metrics (and a demo page with --demo)')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', port, 8080)
    .option('--tokens <file>', 'JSON file: { "<token>": { "tenant", "user", "role", "threads": "*" | [..] } }')
    .option('--redis <url>', 'share the streams with other nodes through Redis 7 (redis://HOST:PORT; maxmemory-policy noeviction)')
    .option('--node <name>', 'this node\'s name in a cluster (default hostname:pid)')
    .option('--demo', 'serve a live demo page at / with a built-in producer of fake agent runs')
    .option('--json', 'print the listening line as one JSON object {"url","ws","node"}')
    .action(async (flags: ServeFlags) => {
      if (flags.redis !== undefined) {
        // loaded only with --redis: an embedded server never loads the Redis client
        const { checkRedis } = await import('../transport/redis-store.ts');
        const checked = await checkRedis(flags.redis);
        if (!checked.ok) usage('serve', checked.message);
      }
      let tokens: Tokens = {};
      if (flags.tokens !== undefined) {
        const loaded = loadTokens(flags.tokens);
        if (!loaded.ok) usage('serve', `bad tokens file ${flags.tokens}: ${loaded.message}`);
        tokens = loaded.tokens;
      }
      // loaded only for this command: `wsim run` never pays for the server
      const { startServe } = await import('./serve-start.ts');
      let serving: Serving;
      try {
        serving = await startServe({
          host: flags.host, port: flags.port, tokens, demo: flags.demo ?? false, publishSecret: process.env.WSIM_PUBLISH_SECRET || undefined,
          ...(flags.redis !== undefined ? { redis: flags.redis } : {}), ...(flags.node !== undefined ? { node: flags.node } : {}),
        });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const why = code === 'EADDRINUSE' ? 'is already in use' : code === 'EACCES' ? 'is not allowed' : `cannot be used (${code ?? (error as Error).message})`;
        return usage('serve', `${flags.host}:${flags.port} ${why}`);
      }
      // the command lasts as long as the server: cli/main.ts exits 2 s after a command resolves
      let stopped!: () => void;
      const untilStopped = new Promise<void>((resolve) => (stopped = resolve));
      const stop = () => {
        // the exit is bounded even if a peer never completes its close
        setTimeout(() => process.exit(0), SHUTDOWN_LIMIT_MS - 500).unref();
        void serving.close().then(() => {
          stopped();
          process.exit(0);
        });
      };
      // before the listening line: whoever reads it may signal at once
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      if (!process.env.WSIM_PUBLISH_SECRET) process.stderr.write('wsim serve: POST /v1/publish and /v1/roles answer 401 until WSIM_PUBLISH_SECRET is set\n');
      if (flags.json) process.stdout.write(`${JSON.stringify({ url: serving.url, ws: serving.ws, node: serving.node })}\n`);
      else process.stdout.write(`wsim serve listening on ${serving.url}\n`);
      await untilStopped;
    });
}
