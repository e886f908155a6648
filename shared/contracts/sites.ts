import Joi from 'joi';

/**
 * Sites: each data provider is a site with its own storage gateway and compute agents. A site
 * name is a short identifier (it appears in queue names, document ids and capability claims).
 * `default` is what a one-machine install is.
 */
export const DEFAULT_SITE = 'default';
export const SITE_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** A site name: lower-case letters, digits, `-` and `_`, 1–32 characters, starting with a letter or digit. */
export function siteName(): Joi.StringSchema {
  return Joi.string().pattern(SITE_PATTERN).messages({
    'string.pattern.base': '{{#label}} must be a site name: 1-32 of a-z, 0-9, "-", "_", starting with a letter or digit',
  });
}

export function isSiteName(value: unknown): value is string {
  return typeof value === 'string' && SITE_PATTERN.test(value);
}

/** The site a document records, `default` when it predates sites. */
export function siteOf(doc: { site?: string | null } | null | undefined): string {
  return doc?.site ?? DEFAULT_SITE;
}

/** Where each blob of a task lives: `<kind>/<uuid>` → gateway base URL (the claim answer's `blob_locations`). */
export type BlobLocations = Record<string, string>;

/** The header (and body field) in which an agent names its site. */
export const SITE_HEADER = 'x-uplet-site';
