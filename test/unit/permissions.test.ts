import { ApiKeyRegistry, apiKeyFromHeaders, hasAnyRole, ROLES, type Principal, type Role } from '../../shared/auth/api-keys';
import type { BlobKind, BlobMeta } from '../../shared/contracts/blob-contract';
import { BLOB_KINDS } from '../../shared/contracts/blob-contract';
import { ConfigError } from '../../shared/errors/uplet-error';
import { mayEverRead, mayRead, mayUpload } from '../../storage-gateway/access/blob-permissions';

const who = (name: string, ...roles: Role[]): Principal => ({ name, roles });

describe('API keys', () => {
  const keys = JSON.stringify([
    { name: 'alice', key: 'alice-key-0123456789', roles: ['organizer'] },
    { name: 'node-1', key: 'node-1-key-0123456789', roles: ['compute', 'data-provider'] },
  ]);

  test('a key authenticates as its principal, with its roles; an unknown or missing key as nobody', () => {
    const registry = ApiKeyRegistry.fromSettings({ UPLET_API_KEYS: keys });
    expect(registry.authenticate('node-1-key-0123456789')).toEqual({ name: 'node-1', roles: ['compute', 'data-provider'] });
    expect(registry.authenticate('node-1-key-012345678')).toBeUndefined();
    expect(registry.authenticate(undefined)).toBeUndefined();
    expect(registry.authenticate('')).toBeUndefined();
  });

  test('the principal handed out cannot be changed by a caller', () => {
    const principal = ApiKeyRegistry.fromSettings({ UPLET_API_KEYS: keys }).authenticate('alice-key-0123456789')!;
    expect(Object.isFrozen(principal)).toBe(true);
    expect(Object.isFrozen(principal.roles)).toBe(true);
  });

  test.each([
    ['not JSON', '[{'],
    ['an unknown role', JSON.stringify([{ name: 'x', key: 'k'.repeat(16), roles: ['root'] }])],
    ['a short key', JSON.stringify([{ name: 'x', key: 'short', roles: ['admin'] }])],
    ['no roles', JSON.stringify([{ name: 'x', key: 'k'.repeat(16), roles: [] }])],
    [
      'a repeated key',
      JSON.stringify([
        { name: 'x', key: 'k'.repeat(16), roles: ['admin'] },
        { name: 'y', key: 'k'.repeat(16), roles: ['admin'] },
      ]),
    ],
    [
      'a repeated name',
      JSON.stringify([
        { name: 'x', key: 'k'.repeat(16), roles: ['admin'] },
        { name: 'x', key: 'j'.repeat(16), roles: ['admin'] },
      ]),
    ],
    ['a control character in a name', JSON.stringify([{ name: 'x\u0007', key: 'k'.repeat(16), roles: ['admin'] }])],
  ])('a key list with %s is a configuration error', (_why, raw) => {
    expect(() => ApiKeyRegistry.fromSettings({ UPLET_API_KEYS: raw })).toThrow(ConfigError);
  });

  test('no key list at all is a configuration error', () => {
    expect(() => ApiKeyRegistry.fromSettings({})).toThrow(ConfigError);
  });

  test('the key comes from X-API-Key, else from a bearer token', () => {
    expect(apiKeyFromHeaders({ 'x-api-key': 'k1', authorization: 'Bearer k2' })).toBe('k1');
    expect(apiKeyFromHeaders({ authorization: 'bearer  k2 ' })).toBe('k2');
    expect(apiKeyFromHeaders({ authorization: 'Basic k2' })).toBeUndefined();
    expect(apiKeyFromHeaders({ 'x-api-key': '' })).toBeUndefined();
    expect(apiKeyFromHeaders({ 'x-api-key': ['k1', 'k2'] })).toBeUndefined();
  });

  test('a role check passes for any of the roles, and always for an admin', () => {
    expect(hasAnyRole(who('a', 'compute'), ['organizer', 'compute'])).toBe(true);
    expect(hasAnyRole(who('a', 'compute'), ['organizer'])).toBe(false);
    expect(hasAnyRole(who('a', 'admin'), ['organizer'])).toBe(true);
    expect(hasAnyRole(who('a', 'data-provider'), [])).toBe(false);
  });
});

/**
 * The storage gateway's rules as a table: for each kind of blob and each single role, whether it
 * may upload, read any blob of the kind, read its own upload, read one it is named a reader of.
 * Data never leaves the node except to compute: not to its provider, not to admins.
 */
describe('blob permissions', () => {
  type Row = { upload: Role[]; readsAll: Role[]; ownerReads: boolean; readersRead: boolean };
  const expected: Record<BlobKind, Row> = {
    data: { upload: ['data-provider', 'admin'], readsAll: ['compute'], ownerReads: false, readersRead: false },
    algo: { upload: ['algo-author', 'admin'], readsAll: ['compute', 'admin'], ownerReads: true, readersRead: false },
    workflow: { upload: ['organizer', 'admin'], readsAll: ['compute', 'admin'], ownerReads: true, readersRead: false },
    model: { upload: ['compute', 'admin'], readsAll: ['compute', 'admin'], ownerReads: false, readersRead: false },
    prediction: { upload: ['compute', 'admin'], readsAll: ['compute', 'admin'], ownerReads: false, readersRead: true },
  };
  const blob = (kind: BlobKind, owner: string, readers: string[] = []): BlobMeta => ({
    uuid: 'b1',
    kind,
    size: 1,
    sha256: '0'.repeat(64),
    owner,
    content_type: 'application/octet-stream',
    created: '2026-01-01T00:00:00.000Z',
    readers,
  });
  const cases = BLOB_KINDS.flatMap((kind) => ROLES.map((role) => [kind, role] as const));

  test('the table covers every kind of blob', () => {
    expect(Object.keys(expected).sort()).toEqual([...BLOB_KINDS].sort());
  });

  test.each(cases)('%s blobs, role %s', (kind, role) => {
    const row = expected[kind];
    const me = who('me', role);
    expect(mayUpload(me, kind)).toBe(row.upload.includes(role));
    expect(mayRead(me, blob(kind, 'someone-else'))).toBe(row.readsAll.includes(role));
    expect(mayRead(me, blob(kind, 'me'))).toBe(row.readsAll.includes(role) || row.ownerReads);
    expect(mayRead(me, blob(kind, 'someone-else', ['me']))).toBe(row.readsAll.includes(role) || row.readersRead);
    // The early check (before the blob is looked up) must never refuse what the full check allows.
    expect(mayEverRead(me, kind)).toBe(row.readsAll.includes(role) || row.ownerReads || row.readersRead);
  });

  test("the data provider cannot read back its own data, nor an admin read anyone's", () => {
    expect(mayRead(who('p', 'data-provider'), blob('data', 'p'))).toBe(false);
    expect(mayRead(who('root', 'admin'), blob('data', 'p', ['root']))).toBe(false);
    expect(mayEverRead(who('root', 'admin'), 'data')).toBe(false);
  });
});
