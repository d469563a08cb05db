/**
 * Connection ids for a real server: 128 random bits from the OS, so no client
 * can guess the id of another connection (the hub draws, and re-draws on the
 * astronomically unlikely collision). The simulation draws from its PRNG instead.
 */
import { randomBytes } from 'node:crypto';

export const cryptoSessionIds = (): string => randomBytes(16).toString('base64url');
