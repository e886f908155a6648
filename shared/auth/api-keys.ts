import crypto from 'node:crypto';
import Joi from 'joi';
import { ConfigError } from '../errors/uplet-error';
import { readValueOrFile } from '../config/load-config';
import { displayText } from '../contracts/text';
import { siteName } from '../contracts/sites';

export const ROLES = ['organizer', 'data-provider', 'algo-author', 'compute', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  name: string;
  roles: readonly Role[];
  /** A key bound to a site acts only there: a provider registers data only at it, an agent claims only its work. */
  site?: string;
}

interface ApiKeyEntry extends Principal {
  key: string;
}

const entrySchema = Joi.array()
  .items(
    Joi.object({
      // A key's name is stored as the owner of what it posts: no control characters.
      name: displayText().min(1).max(200).required(),
      key: Joi.string().min(16).max(512).required(),
      roles: Joi.array()
        .items(Joi.string().valid(...ROLES))
        .min(1)
        .unique()
        .required(),
      site: siteName(),
    }),
  )
  .unique('name')
  .unique('key');

/**
 * The API keys of a deployment (`UPLET_API_KEYS` JSON, or the file named by
 * `UPLET_API_KEYS_FILE`). Keys are compared by their SHA-256 digest so the
 * lookup time does not depend on how much of a guessed key is right.
 */
export class ApiKeyRegistry {
  private readonly byDigest = new Map<string, Principal>();

  constructor(entries: readonly ApiKeyEntry[]) {
    for (const e of entries)
      this.byDigest.set(digest(e.key), Object.freeze({ name: e.name, roles: Object.freeze([...e.roles]), ...(e.site ? { site: e.site } : {}) }));
  }

  static fromSettings(settings: { UPLET_API_KEYS?: string; UPLET_API_KEYS_FILE?: string }): ApiKeyRegistry {
    const raw = readValueOrFile(settings.UPLET_API_KEYS, settings.UPLET_API_KEYS_FILE, 'UPLET_API_KEYS');
    if (raw === undefined) throw new ConfigError(['UPLET_API_KEYS: is required (JSON list of {name, key, roles}), or set UPLET_API_KEYS_FILE']);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      throw new ConfigError([`UPLET_API_KEYS: is not valid JSON (${(err as Error).message})`]);
    }
    const { value, error } = entrySchema.validate(parsed, { abortEarly: false });
    if (error) throw new ConfigError(error.details.map((d) => `UPLET_API_KEYS[${d.path.join('.')}]: ${d.message.replace(/^"[^"]*" /, '')}`));
    return new ApiKeyRegistry(value as ApiKeyEntry[]);
  }

  authenticate(key: string | undefined): Principal | undefined {
    if (!key) return undefined;
    return this.byDigest.get(digest(key));
  }
}

function digest(key: string): string {
  return crypto.createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The key a request carries: `X-API-Key`, or `Authorization: Bearer <key>`. */
export function apiKeyFromHeaders(headers: Record<string, string | string[] | undefined>): string | undefined {
  const direct = headers['x-api-key'];
  if (typeof direct === 'string' && direct !== '') return direct;
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  return undefined;
}

export function hasAnyRole(principal: Principal, roles: readonly Role[]): boolean {
  return principal.roles.includes('admin') || roles.some((r) => principal.roles.includes(r));
}
