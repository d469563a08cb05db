/**
 * The scenarios of the category hostile-clients (DESIGN.md): each a fast-check
 * property over generated workloads, fault plans and rogue clients, titled
 * with its scenario id. Then the teeth of the category: each defence of issue
 * 10 taken out again (as the old code was, or with its limit lifted) must be
 * caught by the scenario that names it, with the failure it names.
 */
import { expect } from 'chai';
import { enqueueActions } from 'xstate';
import { freshId, hubMachine, spawnSessionNamed } from '../../machines/hub.ts';
import { serverSessionMachine } from '../../machines/server-session.ts';
import { defaultSeed } from '../../cli/env.ts';
import { runAt } from '../../sim/scenario.ts';
import { HOSTILE_LIMITS } from '../../sim/scenarios/hostile-clients.ts';
import type { ProtocolVariant } from '../../sim/world.ts';
import { proveCategory, proveTeeth, scenario, type CategoryTooth } from './harness.ts';

proveCategory('hostile-clients');

const withSession = (session: typeof serverSessionMachine): ProtocolVariant => ({ hubMachine: hubMachine.provide({ actors: { session } }) });

const TEETH: CategoryTooth[] = [
  {
    name: 'the hub names a session as the client asked (the old ?conn=)',
    caughtBy: 'session_hijack_resistance',
    variant: { hubMachine: hubMachine.provide({ actions: { spawnSession: spawnSessionNamed((context, event) => event.hint ?? freshId(context)) as never } }) },
    failure: /isolation|completeness|never received/,
  },
  {
    name: 'no identity binding between the upgrade and hello',
    caughtBy: 'session_hijack_resistance',
    variant: withSession(serverSessionMachine.provide({ guards: { identityMismatch: () => false } })),
    failure: /token_mismatch was never answered 4403/,
  },
  {
    name: 'no quotas on streams and logs',
    caughtBy: 'resource_quota_enforcement',
    variant: { limits: { ...HOSTILE_LIMITS, maxThreadsPerSession: 1e9, maxLogsPerUser: 1e9, maxLogsPerTenant: 1e9 } },
    failure: /over its quota|limit_exceeded/,
  },
  {
    name: 'garbage keeps a session alive (an invalid frame counts as heard)',
    caughtBy: 'resource_quota_enforcement',
    variant: withSession(
      serverSessionMachine.provide({
        actions: {
          rejectFrame: enqueueActions(({ event, enqueue }) => {
            if (event.type !== 'frame.invalid') return;
            const { code, detail } = event as unknown as { code: string; detail: string };
            enqueue({ type: 'notifyRejected', params: { code, detail } });
            enqueue({ type: 'sendFrame', params: { data: JSON.stringify({ v: 1, type: 'error', code, message: detail }) } });
            enqueue.raise({ type: 'HEARD' });
          }) as never,
        },
      }),
    ),
    failure: /garbage_keepalive.*(never answered 4000|never closed 4000)/,
  },
  {
    name: 'idle replay logs are never evicted',
    caughtBy: 'resource_quota_enforcement',
    variant: { limits: { ...HOSTILE_LIMITS, logIdleTtlMs: 1e9 } },
    failure: /rogue.logs is \d+ after every rogue left/,
  },
  {
    name: 'history is re-sent without a budget',
    caughtBy: 'hostile_load_isolation',
    variant: { limits: { ...HOSTILE_LIMITS, replayFramesPerSecond: Infinity } },
    failure: /history frames within one second/,
  },
];

proveTeeth('hostile-clients teeth: each defence taken out is caught', TEETH);

describe('hostile-clients teeth: the control', () => {
  it('the same path passes on the real protocol (the teeth bite the variant, not the scenario)', function () {
    this.timeout(120_000);
    for (const id of new Set(TEETH.map((t) => t.caughtBy))) {
      const outcome = runAt(scenario(id), { seed: defaultSeed(), path: '0', traceTransitions: false })!;
      expect(outcome.failures, id).to.deep.equal([]);
    }
  });
});
