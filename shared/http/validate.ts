import type Joi from 'joi';
import { ValidationError } from '../errors/uplet-error';

/** Validates one part of a request; every problem is named with where it is. */
export function validate<T>(schema: Joi.Schema<T>, value: unknown, where: 'body' | 'query' | 'path' | 'header'): T {
  // express.json() leaves the body undefined for another content type: say so instead of failing later.
  if (where === 'body' && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw new ValidationError('the body must be a JSON object sent with Content-Type: application/json', { details: [{ where }] });
  }
  const { value: valid, error } = schema.validate(value, { abortEarly: false, convert: true });
  if (error) {
    const problems = error.details.map((d) => ({ where, field: d.path.join('.') || undefined, message: d.message }));
    throw new ValidationError(`invalid ${where}: ${problems.map((p) => p.message).join('; ')}`, { details: problems });
  }
  return valid;
}
