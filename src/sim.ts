/**
 * `wsim/sim`: the deterministic world, for users who write scenarios of their
 * own — the 25 scenarios, `runScenario`, the world, fault plans, the oracle.
 */
export { SCENARIOS, SCENARIO_IDS, findScenario } from '../sim/scenarios/index.ts';
export { runScenario, runInput, runAt, reportOf, STRICT, CATEGORIES } from '../sim/scenario.ts';
export type { Scenario, ScenarioInput, ScenarioReport, RunOptions, RunOutcome, Thresholds, Category, Check, CheckContext } from '../sim/scenario.ts';
export { World } from '../sim/world.ts';
export { runWorld } from '../sim/run-driver.ts';
export { horizonOf } from '../sim/horizon.ts';
export type { WorldInput, WorldResult, ProtocolVariant } from '../sim/world.ts';
export { CALM_PLAN, validateFaultPlan, describeFaultPlan } from '../sim/fault-plan.ts';
export type { FaultPlan, ClusterPlan, NodeCrash } from '../sim/fault-plan.ts';
export { ClusterWorld, runClusterWorld } from '../sim/cluster-world.ts';
export type { BrokerFault } from '../sim/broker-faults.ts';
export { judge } from '../sim/oracle.ts';
export type { Metrics, Verdict, Violation } from '../sim/oracle.ts';
export type { Workload } from '../sim/workload.ts';
