import Joi from 'joi';

/**
 * Every uuid in uplet (documents, blobs) matches this: RFC 4122 uuids and short
 * readable ids alike, and nothing that could travel in a path (`/`, `.`, `%`).
 */
export const IDENTIFIER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const identifier = () =>
  Joi.string().pattern(IDENTIFIER_PATTERN).messages({
    'string.pattern.base': '{{#label}} must be 1-64 letters, digits, dashes or underscores, starting with a letter or digit',
  });
