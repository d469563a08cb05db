/** The scenarios of DESIGN.md (the 25, and hostile-clients), by id. Ids are a contract: spec titles, `--scenario`, reports. */
import type { Scenario } from '../scenario.ts';
import { cluster } from './cluster.ts';
import { connectionStateManagement } from './connection-state-management.ts';
import { errorHandlingRecovery } from './error-handling-recovery.ts';
import { eventDeliveryReliability } from './event-delivery-reliability.ts';
import { eventRoutingIsolation } from './event-routing-isolation.ts';
import { hostileClients } from './hostile-clients.ts';
import { performanceLoadHandling } from './performance-load-handling.ts';

export const SCENARIOS: readonly Scenario[] = [
  ...eventDeliveryReliability,
  ...connectionStateManagement,
  ...eventRoutingIsolation,
  ...errorHandlingRecovery,
  ...performanceLoadHandling,
  ...hostileClients,
  ...cluster,
];

export const SCENARIO_IDS: readonly string[] = SCENARIOS.map((s) => s.id);

export function findScenario(id: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.id === id);
}
