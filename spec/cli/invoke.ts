/**
 * `wsim ARGS` for the specs: in-process through `runCli` (a fresh program per
 * call; stdout and stderr captured, stderr made a non-terminal, SIM_* set for
 * the call), or as a real process through the package's entry.
 */
import { execFile } from 'node:child_process';
import { runCli } from '../../cli/program.ts';

export interface Invocation {
  code: number;
  stdout: string;
  stderr: string;
}

type Write = typeof process.stdout.write;

/** Run `wsim ...args` in this process with `env` laid over process.env. */
export async function invoke(args: readonly string[], env: Record<string, string> = {}): Promise<Invocation> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = { out: process.stdout.write, err: process.stderr.write, tty: process.stderr.isTTY, env: { ...process.env } };
  const capture = (into: string[]): Write => ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    done?.();
    return true;
  }) as Write;
  Object.assign(process.env, env);
  process.stdout.write = capture(out);
  process.stderr.write = capture(err);
  process.stderr.isTTY = false;
  try {
    const code = await runCli(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
    process.stderr.isTTY = saved.tty;
    for (const key of Object.keys(env)) {
      if (saved.env[key] === undefined) delete process.env[key];
      else process.env[key] = saved.env[key];
    }
  }
}

/** Run `wsim ...args` as a process, the way a user does (bounded in time). */
export function spawnWsim(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<Invocation> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') reject(error);
      else resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

/**
 * What is wrong with the answer to bad input, if anything: it must exit 2,
 * print nothing on stdout, and exactly one line on stderr that starts with
 * `wsim <command>:` and carries no stack trace.
 */
export function badInputProblems(r: Invocation, command: string): string[] {
  const problems: string[] = [];
  const prefix = command ? `wsim ${command}: ` : 'wsim: ';
  if (r.code !== 2) problems.push(`exit ${r.code}, not 2`);
  if (r.stdout !== '') problems.push(`stdout not empty: ${JSON.stringify(r.stdout.slice(0, 80))}`);
  const lines = r.stderr.replace(/\n$/, '').split('\n');
  if (!r.stderr.endsWith('\n') || lines.length !== 1) problems.push(`${lines.length} lines on stderr, not 1`);
  if (!r.stderr.startsWith(prefix)) problems.push(`stderr does not start with '${prefix}': ${JSON.stringify(r.stderr.slice(0, 80))}`);
  if (/\n\s+at |^\s*at .+:\d+:\d+\)?$|\bError: /m.test(r.stderr)) problems.push('a stack trace or a raw Error');
  if (lines[0]!.length > 300) problems.push(`a ${lines[0]!.length}-character line`);
  return problems;
}
