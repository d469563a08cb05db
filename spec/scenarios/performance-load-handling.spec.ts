/** Scenarios of the category performance-load-handling: each test is a property over generated workloads and fault plans. */
import { prove, scenario } from './harness.ts';

describe('performance-load-handling', function () {
  this.timeout(300_000);

  it(`high_frequency_message_handling: ${scenario('high_frequency_message_handling').holds}`, () => prove('high_frequency_message_handling'));

  it(`concurrent_user_scaling_performance: ${scenario('concurrent_user_scaling_performance').holds}`, () => prove('concurrent_user_scaling_performance'));

  it(`large_payload_handling_performance: ${scenario('large_payload_handling_performance').holds}`, () => prove('large_payload_handling_performance'));

  it(`sustained_load_endurance_performance: ${scenario('sustained_load_endurance_performance').holds}`, () => prove('sustained_load_endurance_performance'));

  it(`websocket_memory_efficiency_optimization: ${scenario('websocket_memory_efficiency_optimization').holds}`, () => prove('websocket_memory_efficiency_optimization'));
});
