/** The 25 scenarios of DESIGN.md, by id. Ids are a contract: spec titles, `--scenario`, reports. */
import type { Scenario } from '../scenario.ts';
import { connectionStateManagement } from './connection-state-management.ts';
import { errorHandlingRecovery } from './error-handling-recovery.ts';
import { eventDeliveryReliability } from './event-delivery-reliability.ts';
import { eventRoutingIsolation } from './event-routing-isolation.ts';
import { performanceLoadHandling } from './performance-load-handling.ts';

export const SCENARIOS: readonly Scenario[] = [
  ...eventDeliveryReliability,
  ...connectionStateManagement,
  ...eventRoutingIsolation,
  ...errorHandlingRecovery,
  ...performanceLoadHandling,
];

export const SCENARIO_IDS: readonly string[] = SCENARIOS.map((s) => s.id);

export function findScenario(id: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.id === id);
}
