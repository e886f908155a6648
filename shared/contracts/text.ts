import Joi from 'joi';

/**
 * Rules for free text. PostgreSQL (under FerretDB) refuses a NUL anywhere in a
 * document, terminals obey escape sequences, and bidi overrides make a name read
 * differently from what it is ("evil\u202Egpj.exe"): names and filters refuse them,
 * log text has them replaced.
 */
const CONTROL = '\\u0000-\\u001f\\u007f-\\u009f';
const BIDI = '\\u202a-\\u202e\\u2066-\\u2069';
// With the u flag a surrogate pair is one code point, so this range catches lone surrogates only.
const NAME_PATTERN = new RegExp(`^[^${CONTROL}${BIDI}\\ud800-\\udfff]*$`, 'u');
/** Everything but newline and tab among the controls, and the bidi controls. */
const LOG_UNSAFE = new RegExp(`[\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f${BIDI}]`, 'g');
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** A display name or a filter on one: no control characters, no bidi overrides or isolates. */
export const displayText = () =>
  Joi.string().pattern(NAME_PATTERN).messages({
    'string.pattern.base': '{{#label}} must not contain control characters or bidirectional overrides',
  });

/** Printable ASCII only (tokens, node names). */
export const printableAscii = () =>
  Joi.string()
    .pattern(/^[\x20-\x7e]*$/)
    .messages({ 'string.pattern.base': '{{#label}} must be printable ASCII' });

/** Log text made safe to store and show: CRLF → LF, other controls and bidi controls → U+FFFD, lone surrogates too. */
export function sanitizeLogText(text: string): string {
  return text.replace(/\r\n/g, '\n').replace(LOG_UNSAFE, '\ufffd').replace(LONE_SURROGATE, '\ufffd');
}

/** A Joi string that is sanitised rather than refused (reasons and log tails written by algos). */
export const logText = () => Joi.string().custom((value: string) => sanitizeLogText(value));
