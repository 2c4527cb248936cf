// The voter identity: a random UUID minted on a browser's first vote (or one
// derived from the vote's Idempotency-Key, see fromKey), kept in
// a signed cookie. Format: `v1.<uuid>.<HMAC-SHA256(secret, "v1.<uuid>") as
// base64url>`. The signature is checked in constant time; anything that does
// not verify is "bad" (the caller answers 400), never silently replaced.
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

export const VOTER_COOKIE = 'sv_voter';
const VERSION = 'v1';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** One year: the identity outlives a browser session on purpose (one vote per browser). */
export const VOTER_COOKIE_MAX_AGE_MS = 365 * 24 * 3600 * 1000;

export type VoterCookie = { kind: 'none' } | { kind: 'bad' } | { kind: 'ok'; voterId: string };

export interface VoterSigner {
  mint(): { voterId: string; cookie: string };
  /**
   * The voter of a vote's Idempotency-Key when the request carries no voter
   * cookie: HMAC-SHA256(secret, key) as a UUID (RFC 9562 version 8), so a
   * retry whose first reply (and its Set-Cookie) was lost is the same voter
   * and cannot count twice. Not guessable without the secret.
   */
  fromKey(key: string): { voterId: string; cookie: string };
  sign(voterId: string): string;
  /** Reads the raw cookie value (undefined when the browser sent none). */
  verify(value: string | undefined): VoterCookie;
}

export function createVoterSigner(secret: string): VoterSigner {
  const mac = (payload: string): Buffer => createHmac('sha256', secret).update(payload).digest();
  const sign = (voterId: string): string => {
    const payload = `${VERSION}.${voterId}`;
    return `${payload}.${mac(payload).toString('base64url')}`;
  };
  return {
    sign,
    mint() {
      const voterId = randomUUID();
      return { voterId, cookie: sign(voterId) };
    },
    fromKey(key) {
      const b = createHmac('sha256', secret).update(`voter-from-key.${key.toLowerCase()}`).digest().subarray(0, 16);
      b[6] = (b[6]! & 0x0f) | 0x80; // version 8: custom
      b[8] = (b[8]! & 0x3f) | 0x80; // variant 10
      const h = b.toString('hex');
      const voterId = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
      return { voterId, cookie: sign(voterId) };
    },
    verify(value) {
      if (value === undefined) return { kind: 'none' };
      const parts = value.split('.');
      if (parts.length !== 3) return { kind: 'bad' };
      const [version, voterId, sig] = parts as [string, string, string];
      if (version !== VERSION || !UUID.test(voterId) || !/^[A-Za-z0-9_-]{43}$/.test(sig)) return { kind: 'bad' };
      const expected = mac(`${version}.${voterId}`);
      const given = Buffer.from(sig, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { kind: 'bad' };
      return { kind: 'ok', voterId };
    },
  };
}

/** An Idempotency-Key must be a UUID (any version), case-insensitive. */
export const IDEMPOTENCY_KEY = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
