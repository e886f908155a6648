import crypto from 'node:crypto';

/**
 * A short-lived, signed permission to download exactly the blobs one uplet
 * needs, issued by the orchestrator when a compute node claims the uplet and
 * checked by the storage gateway: a compute node can read only the data of the
 * work it holds. HMAC-SHA256 over the payload with a secret both services share.
 */
export interface CapabilityPayload {
  /** The principal (compute node key name) it was issued to. */
  sub: string;
  /** The uplet it serves, for the logs. */
  uplet: string;
  /** `<kind>/<uuid>` of every blob it opens. */
  blobs: string[];
  /** Expiry, in seconds since the epoch. */
  exp: number;
}

export const CAPABILITY_HEADER = 'x-uplet-capability';

export function signCapability(payload: CapabilityPayload, secret: string): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${mac(body, secret)}`;
}

export type CapabilityCheck = { ok: true; payload: CapabilityPayload } | { ok: false; reason: string };

/** Checks the signature, the expiry, the holder and that the blob is named. */
export function checkCapability(token: string | undefined, secret: string, principal: string, blob: string, nowSeconds = Date.now() / 1000): CapabilityCheck {
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
  if (!Array.isArray(payload.blobs) || !payload.blobs.includes(blob)) return { ok: false, reason: `the capability does not name ${blob}` };
  return { ok: true, payload };
}

function mac(body: string, secret: string): string {
  return crypto.createHmac('sha256', secret).update(body).digest('base64url');
}
