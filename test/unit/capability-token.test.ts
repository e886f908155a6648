import crypto from 'node:crypto';
import { checkCapability, signCapability, type CapabilityPayload } from '../../shared/auth/capability-token';

const SECRET = 'the-shared-capability-secret';
const NOW = 1_800_000_000;
const payload: CapabilityPayload = {
  sub: 'node-1',
  uplet: 'u1',
  kind: 'learnuplet',
  attempt: 2,
  blobs: ['data/d1', 'algo/a1'],
  writes: ['model/u1-2'],
  exp: NOW + 60,
};
const check = (token: string | undefined, overrides: { secret?: string; principal?: string; blob?: string; access?: 'read' | 'write'; now?: number } = {}) =>
  checkCapability(
    token,
    overrides.secret ?? SECRET,
    overrides.principal ?? 'node-1',
    overrides.blob ?? 'data/d1',
    overrides.access ?? 'read',
    overrides.now ?? NOW,
  );
const reasonOf = (result: ReturnType<typeof checkCapability>) => (result.ok ? 'accepted' : result.reason);

/** Re-encodes a token's payload without re-signing it: what a compute node forging more access would send. */
function withForgedPayload(token: string, change: (p: CapabilityPayload) => CapabilityPayload): string {
  const [body, signature] = token.split('.') as [string, string];
  const forged = change(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as CapabilityPayload);
  return `${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${signature}`;
}

describe('capability tokens', () => {
  const token = signCapability(payload, SECRET);

  test('a signed capability opens the blobs it names for reading and the outputs it names for writing', () => {
    expect(check(token)).toEqual({ ok: true, payload });
    expect(check(token, { blob: 'algo/a1' }).ok).toBe(true);
    expect(check(token, { blob: 'model/u1-2', access: 'write' }).ok).toBe(true);
  });

  test('it opens nothing else: other blobs, reading an output, writing an input', () => {
    expect(reasonOf(check(token, { blob: 'data/d2' }))).toBe('the capability does not name data/d2');
    expect(reasonOf(check(token, { blob: 'model/u1-2' }))).toBe('the capability does not name model/u1-2');
    expect(reasonOf(check(token, { blob: 'data/d1', access: 'write' }))).toBe('the capability does not authorise writing data/d1');
  });

  test('a capability issued before outputs were gated (no writes) authorises no write', () => {
    const { writes: _writes, ...old } = payload;
    expect(reasonOf(check(signCapability(old, SECRET), { blob: 'model/u1-2', access: 'write' }))).toBe('the capability does not authorise writing model/u1-2');
  });

  test('it is valid up to its expiry second and refused after', () => {
    expect(check(token, { now: NOW + 60 }).ok).toBe(true);
    expect(reasonOf(check(token, { now: NOW + 60.001 }))).toBe('the capability has expired');
  });

  test('only the compute node it was issued to may use it', () => {
    expect(reasonOf(check(token, { principal: 'node-2' }))).toBe('the capability was issued to another compute node');
  });

  test('a capability signed with another secret is refused', () => {
    expect(reasonOf(check(signCapability(payload, 'another-secret')))).toBe('the capability signature is invalid');
    expect(reasonOf(check(token, { secret: 'another-secret' }))).toBe('the capability signature is invalid');
  });

  test.each([
    ['names one more blob', (p: CapabilityPayload) => ({ ...p, blobs: [...p.blobs, 'data/d2'] })],
    ['lives longer', (p: CapabilityPayload) => ({ ...p, exp: p.exp + 3600 })],
    ['changes holder', (p: CapabilityPayload) => ({ ...p, sub: 'node-2' })],
    ['authorises another write', (p: CapabilityPayload) => ({ ...p, writes: ['model/other'] })],
  ])('a payload changed after signing (it %s) is refused', (_what, change) => {
    expect(reasonOf(check(withForgedPayload(token, change)))).toBe('the capability signature is invalid');
  });

  test('a flipped signature character is refused', () => {
    const [body, signature] = token.split('.') as [string, string];
    const flipped = `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
    expect(reasonOf(check(`${body}.${flipped}`))).toBe('the capability signature is invalid');
    expect(reasonOf(check(`${body}.${signature.slice(0, -1)}`))).toBe('the capability signature is invalid');
  });

  test.each([
    ['missing', undefined, 'a capability (x-uplet-capability) issued for this task is required'],
    ['empty', '', 'a capability (x-uplet-capability) issued for this task is required'],
    ['without a signature', 'abc', 'the capability is malformed'],
    ['of three parts', `${'a'}.b.c`, 'the capability is malformed'],
  ])('a token %s is refused', (_what, given, reason) => {
    expect(reasonOf(check(given))).toBe(reason);
  });

  test('a correctly signed body that is not JSON is malformed, not a crash', () => {
    // Signed with the same HMAC the issuer uses, so only the JSON parse can refuse it.
    const body = Buffer.from('not json').toString('base64url');
    const mac = crypto.createHmac('sha256', SECRET).update(body).digest('base64url');
    expect(reasonOf(check(`${body}.${mac}`))).toBe('the capability is malformed');
  });

  test('a correctly signed payload without a numeric expiry never opens anything', () => {
    const noExpiry = signCapability({ ...payload, exp: 'never' as unknown as number }, SECRET);
    expect(reasonOf(check(noExpiry))).toBe('the capability has expired');
  });
});
