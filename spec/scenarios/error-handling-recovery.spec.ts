/** Scenarios of the category error-handling-recovery: each test is a property over generated workloads and fault plans. */
import { prove, scenario } from './harness.ts';

describe('error-handling-recovery', function () {
  this.timeout(300_000);

  it(`connection_failure_recovery: ${scenario('connection_failure_recovery').holds}`, () => prove('connection_failure_recovery'));

  it(`message_delivery_failure_retry: ${scenario('message_delivery_failure_retry').holds}`, () => prove('message_delivery_failure_retry'));

  it(`malformed_message_handling: ${scenario('malformed_message_handling').holds}`, () => prove('malformed_message_handling'));

  it(`resource_exhaustion_recovery: ${scenario('resource_exhaustion_recovery').holds}`, () => prove('resource_exhaustion_recovery'));

  it(`concurrent_error_isolation: ${scenario('concurrent_error_isolation').holds}`, () => prove('concurrent_error_isolation'));
});
