import Joi from 'joi';

/**
 * A media type as RFC 9110 defines it (type "/" subtype, then `; name=value` parameters,
 * values a token or a quoted string), at most 200 characters: a blob's Content-Type is
 * stored and sent back in a header, so it must stay small and well-formed.
 */
const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const QUOTED = '"(?:[\\t\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]|\\\\[\\t\\x20-\\x7e])*"';
export const MEDIA_TYPE_PATTERN = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*(?:${TOKEN}=(?:${TOKEN}|${QUOTED}))?)*$`);
export const MEDIA_TYPE_MAX = 200;

export const mediaType = () =>
  Joi.string().max(MEDIA_TYPE_MAX).pattern(MEDIA_TYPE_PATTERN).messages({
    'string.pattern.base': '{{#label}} must be a media type such as application/octet-stream or text/csv; charset=utf-8',
  });

export function isMediaType(value: string): boolean {
  return value.length <= MEDIA_TYPE_MAX && MEDIA_TYPE_PATTERN.test(value);
}

/**
 * Types a browser would render or run (HTML, XML, SVG, scripts) are served as
 * application/octet-stream: a blob is data, never a page of this origin.
 */
export function servedMediaType(stored: string): string {
  if (!isMediaType(stored)) return 'application/octet-stream';
  const essence = stored.split(';')[0]!.trim().toLowerCase();
  return /html|xml|svg|javascript|ecmascript|x-shockwave|multipart\//.test(essence) ? 'application/octet-stream' : stored;
}
