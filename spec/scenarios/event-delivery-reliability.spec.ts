/** Scenarios of the category event-delivery-reliability: each test is a property over generated workloads and fault plans. */
import { prove, scenario } from './harness.ts';

describe('event-delivery-reliability', function () {
  this.timeout(300_000);

  it(`mission_critical_events_delivery_guaranteed: ${scenario('mission_critical_events_delivery_guaranteed').holds}`, () => prove('mission_critical_events_delivery_guaranteed'));

  it(`event_delivery_ordering_consistency: ${scenario('event_delivery_ordering_consistency').holds}`, () => prove('event_delivery_ordering_consistency'));

  it(`event_delivery_retry_mechanism: ${scenario('event_delivery_retry_mechanism').holds}`, () => prove('event_delivery_retry_mechanism'));

  it(`bulk_event_delivery_performance: ${scenario('bulk_event_delivery_performance').holds}`, () => prove('bulk_event_delivery_performance'));

  it(`event_delivery_with_user_context_isolation: ${scenario('event_delivery_with_user_context_isolation').holds}`, () => prove('event_delivery_with_user_context_isolation'));
});
