/**
 * Role-based access as data: for each role and sensitivity, deliver the event,
 * redact its payload, or withhold it (the stream still advances, so the client
 * sees no gap). The policy is looked up at send time, so a role change applies
 * to the next event sent.
 */
import type { AgentEvent, Role, Sensitivity } from './frames.ts';

export type Access = 'deliver' | 'redact' | 'withhold';

export type AccessPolicy = Readonly<Record<Role, Readonly<Record<Sensitivity, Access>>>>;

export const DEFAULT_POLICY: AccessPolicy = {
  viewer: { public: 'deliver', internal: 'redact', restricted: 'withhold' },
  analyst: { public: 'deliver', internal: 'deliver', restricted: 'redact' },
  admin: { public: 'deliver', internal: 'deliver', restricted: 'deliver' },
};

export const REDACTED = '[redacted]';

export function accessFor(policy: AccessPolicy, role: Role, sensitivity: Sensitivity): Access {
  return policy[role][sensitivity];
}

/** The event as this role may see it, or undefined when withheld. */
export function applyPolicy(policy: AccessPolicy, role: Role, event: AgentEvent): AgentEvent | undefined {
  const access = accessFor(policy, role, event.sensitivity);
  if (access === 'withhold') return undefined;
  if (access === 'redact') return { ...event, payload: REDACTED, redacted: true };
  return event;
}
