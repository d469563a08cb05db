/**
 * Progress of a long command (`run`, `swarm`) on stderr: a bar on a terminal,
 * plain lines elsewhere (CI logs, pipes): one at each tenth of the work and at
 * least every 30 s, so a default `npm run sim` prints about ten lines, not one
 * per run. Both say how far (the caller's status), the time elapsed and an
 * estimate of the time left; when the estimate is long it is said once as a
 * line of its own, so a `--runs 1000000000` is announced, not silent.
 */
import cliProgress from 'cli-progress';
import { formatDuration } from './duration.ts';

export interface ProgressOptions {
  /** 'run', 'swarm': the line prefix (`wsim run: ...`). */
  command: string;
  /** Units of work in all (runs, seeds). */
  total: number;
  /** What is done, in the caller's words: '3/25 scenarios, 112/478 runs'. */
  status: (done: number) => string;
  /** A bar (terminal) or lines (default: whether stderr is a terminal). */
  tty?: boolean;
  /** Where it goes (default: stderr). */
  write?: (text: string) => void;
  /** Say the estimate on a line of its own once it passes this many seconds (default 600). */
  announceAfterSeconds?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

export interface Progress {
  /** `n` more units are done. */
  advance(n?: number): void;
  /** A line above the bar (or between the lines). */
  log(line: string): void;
  stop(): void;
  /** Seconds since start. */
  elapsed(): number;
}

const LINE_EVERY_MS = 30_000;
/** An estimate needs a little history before it means anything. */
const ESTIMATE_AFTER_MS = 1_000;

export function startProgress(o: ProgressOptions): Progress {
  const write = o.write ?? ((text: string) => void process.stderr.write(text));
  const now = o.now ?? (() => performance.now());
  const tty = o.tty ?? process.stderr.isTTY === true;
  const started = now();
  let done = 0;
  let announced = false;
  const elapsed = () => (now() - started) / 1000;
  const left = (): number | undefined => (done === 0 || now() - started < ESTIMATE_AFTER_MS ? undefined : (elapsed() / done) * (o.total - done));
  const clock = () => {
    const rest = left();
    return `${formatDuration(elapsed())} elapsed${done >= o.total ? '' : rest === undefined ? '' : `, about ${formatDuration(rest)} left`}`;
  };
  const announce = (say: (line: string) => void) => {
    const rest = left();
    if (announced || rest === undefined || rest < (o.announceAfterSeconds ?? 600)) return;
    announced = true;
    say(`wsim ${o.command}: this will take about ${formatDuration(rest)} more at the rate so far (${o.status(done)}); Ctrl-C stops it`);
  };

  if (tty) {
    const bar = new cliProgress.SingleBar(
      { stream: process.stderr, format: `wsim ${o.command} [{bar}] {status} | {clock}`, hideCursor: true, clearOnComplete: false, barsize: 24 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(o.total, 0, { status: o.status(0), clock: clock() });
    const log = (line: string) => {
      write(`\r\u001b[2K${line}\n`);
      bar.render();
    };
    return {
      advance: (n = 1) => {
        done += n;
        bar.update(done, { status: o.status(done), clock: clock() });
        announce(log);
      },
      log,
      stop: () => {
        bar.update(done, { status: o.status(done), clock: clock() });
        bar.stop();
      },
      elapsed,
    };
  }

  let tenth = 0;
  let lastLine = started;
  const line = (text: string) => write(`${text}\n`);
  const report = () => {
    lastLine = now();
    line(`wsim ${o.command}: ${o.status(done)}, ${clock()}`);
  };
  return {
    advance: (n = 1) => {
      done += n;
      const t = Math.floor((done * 10) / Math.max(1, o.total));
      announce(line);
      if (t > tenth || now() - lastLine >= LINE_EVERY_MS) {
        tenth = Math.max(tenth, t);
        report();
      }
    },
    log: line,
    stop: () => {},
    elapsed,
  };
}
