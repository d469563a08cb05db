/**
 * The scenarios of the category connection-state-management (DESIGN.md): each test is a fast-check
 * property over generated workloads and fault plans, titled with its scenario id.
 */
import { proveCategory } from './harness.ts';

proveCategory('connection-state-management');
