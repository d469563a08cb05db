/**
 * Category: hostile-clients — rogue clients (a fault kind of the plan) attack
 * while honest users stream. Each rogue holds a valid token of an honest
 * tenant (`rogueN`, colliding thread names) and sends what the wire allows.
 * The limits are tightened so a short run reaches every quota; what must hold
 * is DESIGN.md's: nobody reads another identity's events, honest streams are
 * the same as without the rogues, the server stays within its quotas and
 * holds nothing of the rogues once they left.
 */
import type { Limits } from '../../machines/limits.ts';
import { planShape, type PlanShape } from '../fault-arbitraries.ts';
import type { RogueKind } from '../fault-plan.ts';
import { backToBaseline, everyRogueRefused, honestUntouched, quotasHeld, refusedRoguesClosed, replayBudgeted, rogueReadsOnlyItsOwn } from '../rogue-checks.ts';
import { STRICT, type Scenario } from '../scenario.ts';
import { shape } from '../workload.ts';
import { inputOf } from './build.ts';

const category = 'hostile-clients' as const;

/** Small quotas, so a few hundred frames reach them; a short idle TTL, so the baseline returns within the run. */
export const HOSTILE_LIMITS: Partial<Limits> = { maxThreadsPerSession: 8, maxLogsPerUser: 16, maxLogsPerTenant: 96, logIdleTtlMs: 2000, replayFramesPerSecond: 200 };

const HONEST = shape({ tenants: [1, 2], usersPerTenant: [2, 3], tabs: [1, 2], threadsPerUser: [1, 3], runsPerUser: [1, 2], rateHz: [10, 40], collideIds: true });

/** Rogues stay long enough to be reaped (H + T = 5 s) and to storm for a few budget seconds. */
const rogues = (kinds: readonly RogueKind[], count: [number, number]): Partial<PlanShape> => ({ rogues: { count, kinds, stayMs: [6000, 7000] } });

const CHECKS = [rogueReadsOnlyItsOwn, everyRogueRefused, refusedRoguesClosed, quotasHeld(HOSTILE_LIMITS), backToBaseline, replayBudgeted(HOSTILE_LIMITS)];

export const hostileClients: Scenario[] = [
  {
    id: 'session_hijack_resistance',
    category,
    does: "rogue clients forge connection ids, send another user's token in hello, replay revoked tokens, resume into threads they do not own",
    holds: 'no session ever reaches another identity’s events; every honest session is untouched (same delivered stream as without rogues)',
    // no loss on the network: an honest reconnect can then only be the rogues' doing
    input: inputOf(HONEST, planShape({ latencyMs: [2, 10], ...rogues(['forge_conn_id', 'token_mismatch', 'revoked_token', 'resume_foreign'], [4, 6]) })),
    protocol: { limits: HOSTILE_LIMITS },
    settleMs: 8000,
    thresholds: STRICT,
    checks: CHECKS,
    compare: honestUntouched(),
    runs: 6,
  },
  {
    id: 'resource_quota_enforcement',
    category,
    does: 'name bombs, thread floods past the per-session and per-user quotas, deep-nesting and oversized frames, sockets that never say hello, garbage that tries to keep a session',
    holds: 'every rogue gets its typed error or close code; server state (logs, sessions, held bytes) stays within the quotas at every gauge; back to baseline after the rogues leave',
    input: inputOf(HONEST, planShape({ latencyMs: [2, 10], ...rogues(['name_bomb', 'thread_flood', 'deep_nesting', 'oversized', 'idle_no_hello', 'garbage_keepalive'], [6, 9]) })),
    protocol: { limits: HOSTILE_LIMITS },
    settleMs: 8000,
    thresholds: STRICT,
    checks: CHECKS,
    runs: 6,
  },
  {
    id: 'hostile_load_isolation',
    category,
    does: 'floods (pings, subscribe-from-1 replay storms, oversized and deep frames, thread floods) from rogues while honest users stream',
    holds: 'honest delivery 100% exactly-once in order; honest p99 within 2× of the same run without rogues',
    input: inputOf(HONEST, planShape({ latencyMs: [2, 10], jitterMs: [0, 5], ...rogues(['ping_flood', 'replay_storm', 'oversized', 'deep_nesting', 'thread_flood'], [5, 7]) })),
    protocol: { limits: HOSTILE_LIMITS },
    settleMs: 8000,
    thresholds: STRICT,
    checks: CHECKS,
    compare: honestUntouched(2),
    runs: 5,
  },
];
