/**
 * A directory whose identities come from the embedding app's own auth (a
 * session store, a JWT check): `resolve(token)` is asked for any token the
 * directory does not hold. Role changes and revocations still apply on top
 * of what the hook says, so `SET_ROLE` and `REVOKE` mean the same as with a
 * token table.
 */
import type { Role } from './frames.ts';
import { Directory, type AuthResult, type Identity } from './identity.ts';

export type IdentityResolver = (token: string) => Identity | null | undefined;

export class HookedDirectory extends Directory {
  private readonly roles = new Map<string, Role>();
  private readonly revokedTokens = new Set<string>();

  constructor(private readonly resolve: IdentityResolver) {
    super();
  }

  override authenticate(token: string): AuthResult {
    if (this.revokedTokens.has(token)) return { ok: false, reason: 'token expired' };
    const held = super.authenticate(token);
    if (held.ok) return held;
    const identity = this.resolve(token);
    if (!identity) return { ok: false, reason: 'unknown token' };
    const role = this.roles.get(`${identity.tenant}\u0000${identity.user}`);
    return { ok: true, identity: role ? { ...identity, role } : identity };
  }

  override revoke(token: string): void {
    super.revoke(token);
    this.revokedTokens.add(token);
  }

  override setRole(tenant: string, user: string, role: Role): void {
    super.setRole(tenant, user, role);
    this.roles.set(`${tenant}\u0000${user}`, role);
  }
}
