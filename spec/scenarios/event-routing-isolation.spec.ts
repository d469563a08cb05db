/** Scenarios of the category event-routing-isolation: each test is a property over generated workloads and fault plans. */
import { prove, scenario } from './harness.ts';

describe('event-routing-isolation', function () {
  this.timeout(300_000);

  it(`user_specific_event_routing: ${scenario('user_specific_event_routing').holds}`, () => prove('user_specific_event_routing'));

  it(`thread_specific_event_routing: ${scenario('thread_specific_event_routing').holds}`, () => prove('thread_specific_event_routing'));

  it(`event_routing_with_role_based_access: ${scenario('event_routing_with_role_based_access').holds}`, () => prove('event_routing_with_role_based_access'));

  it(`multi_tenant_event_isolation: ${scenario('multi_tenant_event_isolation').holds}`, () => prove('multi_tenant_event_isolation'));

  it(`event_routing_performance_under_load: ${scenario('event_routing_performance_under_load').holds}`, () => prove('event_routing_performance_under_load'));
});
