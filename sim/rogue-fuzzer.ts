/**
 * The rogue fuzzer: an authenticated connection that says hello and then
 * sends garbage frames (sim/fuzz.ts), every one of which the server must
 * refuse with a typed error. The simulated world and the world over real
 * sockets both start it; they differ only in its pace and in what they count.
 */
import type { Directory } from '../machines/identity.ts';
import type { Transport } from '../transport/link.ts';
import { fuzzFrame } from './fuzz.ts';
import type { Random } from './random.ts';

export interface FuzzerHost {
  readonly transport: Transport;
  readonly directory: Directory;
  after(ms: number, label: string, fn: () => void): unknown;
}

export interface FuzzerPlan {
  /** Its token (a viewer of every thread of its own tenant, 'rogue'). */
  token: string;
  frames: number;
  random: Random;
  /** Pause after the hello before the first frame (none: at once). */
  startAfterMs?: number;
  /** Pause after the n-th frame (n from 1). */
  gapMs: (sent: number) => number;
  /** The 3 MB frame (a real server closes 1009 on it; the simulation refuses it frame by frame). */
  oversized: boolean;
  /** Each garbage frame as it goes out. */
  onSent?: () => void;
  /** Every frame went out, or the link closed first. */
  onDone?: () => void;
}

export const FUZZER_TENANT = 'rogue';
export const FUZZER_USER = 'fuzzer';

export function startFuzzer(host: FuzzerHost, plan: FuzzerPlan): void {
  const { token } = plan;
  host.directory.add(token, { tenant: FUZZER_TENANT, user: FUZZER_USER, role: 'viewer', threads: '*' });
  let sent = 0;
  const next = (): void => {
    if (sent++ >= plan.frames) return plan.onDone?.();
    link.send(fuzzFrame(plan.random, plan.oversized ? {} : { oversized: false }));
    plan.onSent?.();
    host.after(plan.gapMs(sent), 'fuzz', next);
  };
  const link = host.transport.connect(
    { connId: `${FUZZER_TENANT}/${FUZZER_USER}/0#1`, endpoint: `${FUZZER_TENANT}/${FUZZER_USER}/0`, token },
    {
      onOpen: () => {
        link.send(JSON.stringify({ v: 1, type: 'hello', token }));
        if (plan.startAfterMs === undefined) next();
        else host.after(plan.startAfterMs, 'fuzz', next);
      },
      onFrame: () => {},
      onClose: () => plan.onDone?.(),
    },
  );
}
