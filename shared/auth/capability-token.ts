import crypto from 'node:crypto';

/**
 * A short-lived, signed permission to read exactly the data one uplet needs
 * and to write exactly its outputs, issued by the orchestrator with each lease
 * (claim and heartbeat) and checked by the storage gateway: a compute node can
 * read only the data of the work it holds, and write only that work's outputs.
 * It expires with the lease it was issued for. HMAC-SHA256 over the payload
 * with a secret both services share.
 */
export interface CapabilityPayload {
  /** The principal (compute node key name) it was issued to. */
  sub: string;
  /** The uplet it serves: the gateway records it on every blob written with it. */
  uplet: string;
  /** `learnuplet` or `preduplet` (absent in capabilities issued before outputs were gated). */
  kind?: string;
  /** The attempt (lease) it was issued for. */
  attempt?: number;
  /** `<kind>/<uuid>` of every blob it opens for reading. */
  blobs: string[];
  /** `<kind>/<uuid>` of every blob it may write: the task's own outputs. */
  writes?: string[];
  /** The site the task runs at (absent: `default`): a gateway serves its data only to tasks of its own site. */
  site?: string;
  /** Of `blobs`, those a gateway of another site may serve too (the problem's test data, the organizer's evaluation set). */
  anywhere?: string[];
  /** Expiry, in seconds since the epoch. */
  exp: number;
}

export type CapabilityAccess = 'read' | 'write';

export const CAPABILITY_HEADER = 'x-uplet-capability';

export function signCapability(payload: CapabilityPayload, secret: string): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${mac(body, secret)}`;
}

export type CapabilityCheck = { ok: true; payload: CapabilityPayload } | { ok: false; reason: string };

/** Checks the signature, the expiry, the holder and that the blob is named for that access. */
export function checkCapability(
  token: string | undefined,
  secret: string,
  principal: string,
  blob: string,
  access: CapabilityAccess = 'read',
  nowSeconds = Date.now() / 1000,
): CapabilityCheck {
  if (!token) return { ok: false, reason: `a capability (${CAPABILITY_HEADER}) issued for this task is required` };
  const [body, signature, extra] = token.split('.');
  if (!body || !signature || extra !== undefined) return { ok: false, reason: 'the capability is malformed' };
  const expected = Buffer.from(mac(body, secret));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !crypto.timingSafeEqual(expected, given)) return { ok: false, reason: 'the capability signature is invalid' };
  let payload: CapabilityPayload;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as CapabilityPayload;
  } catch {
    return { ok: false, reason: 'the capability is malformed' };
  }
  if (typeof payload.exp !== 'number' || payload.exp < nowSeconds) return { ok: false, reason: 'the capability has expired' };
  if (payload.sub !== principal) return { ok: false, reason: 'the capability was issued to another compute node' };
  const named = access === 'read' ? payload.blobs : payload.writes;
  if (!Array.isArray(named) || !named.includes(blob))
    return { ok: false, reason: access === 'read' ? `the capability does not name ${blob}` : `the capability does not authorise writing ${blob}` };
  return { ok: true, payload };
}

/** The payload of a correctly signed capability (expired or not), for logging who read what; undefined otherwise. */
export function verifiedPayload(token: string | undefined, secret: string): CapabilityPayload | undefined {
  if (!token) return undefined;
  const [body, signature, extra] = token.split('.');
  if (!body || !signature || extra !== undefined) return undefined;
  const expected = Buffer.from(mac(body, secret));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !crypto.timingSafeEqual(expected, given)) return undefined;
  try {
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as CapabilityPayload;
  } catch {
    return undefined;
  }
}

function mac(body: string, secret: string): string {
  return crypto.createHmac('sha256', secret).update(body).digest('base64url');
}
