/**
 * Who a token stands for. The directory is the server's auth service as data:
 * the world fills it from the workload and changes roles or revokes tokens
 * mid-run; a session asks it on every hello (also on resume), so a changed
 * role or a revoked token applies on reconnect too.
 */
import type { Role } from './frames.ts';

export interface Identity {
  tenant: string;
  user: string;
  role: Role;
  /** Threads this identity may subscribe to ('*' = all of its own). */
  threads: '*' | readonly string[];
}

export type AuthResult = { ok: true; identity: Identity } | { ok: false; reason: string };

export class Directory {
  private byToken = new Map<string, Identity>();
  private revoked = new Set<string>();

  add(token: string, identity: Identity): void {
    this.byToken.set(token, identity);
  }

  authenticate(token: string): AuthResult {
    const identity = this.byToken.get(token);
    if (!identity) return { ok: false, reason: 'unknown token' };
    if (this.revoked.has(token)) return { ok: false, reason: 'token expired' };
    return { ok: true, identity };
  }

  revoke(token: string): void {
    this.revoked.add(token);
  }

  /** Change a user's role everywhere; returns the identities changed. */
  setRole(tenant: string, user: string, role: Role): void {
    for (const [token, identity] of this.byToken) {
      if (identity.tenant === tenant && identity.user === user) this.byToken.set(token, { ...identity, role });
    }
  }
}

export const mayRead = (identity: Identity, thread: string): boolean =>
  identity.threads === '*' || identity.threads.includes(thread);
