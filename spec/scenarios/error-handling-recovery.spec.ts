/**
 * The scenarios of the category error-handling-recovery (DESIGN.md): each test is a fast-check
 * property over generated workloads and fault plans, titled with its scenario id.
 */
import { proveCategory } from './harness.ts';

proveCategory('error-handling-recovery');
