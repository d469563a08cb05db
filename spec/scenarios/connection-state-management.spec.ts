/** Scenarios of the category connection-state-management: each test is a property over generated workloads and fault plans. */
import { prove, scenario } from './harness.ts';

describe('connection-state-management', function () {
  this.timeout(300_000);

  it(`connection_lifecycle_management: ${scenario('connection_lifecycle_management').holds}`, () => prove('connection_lifecycle_management'));

  it(`connection_heartbeat_monitoring: ${scenario('connection_heartbeat_monitoring').holds}`, () => prove('connection_heartbeat_monitoring'));

  it(`connection_auto_reconnect_mechanism: ${scenario('connection_auto_reconnect_mechanism').holds}`, () => prove('connection_auto_reconnect_mechanism'));

  it(`concurrent_connection_management: ${scenario('concurrent_connection_management').holds}`, () => prove('concurrent_connection_management'));

  it(`connection_timeout_handling: ${scenario('connection_timeout_handling').holds}`, () => prove('connection_timeout_handling'));
});
