import type Joi from 'joi';
import { ValidationError } from '../errors/uplet-error';

/** Validates one part of a request; every problem is named with where it is. */
export function validate<T>(schema: Joi.Schema<T>, value: unknown, where: 'body' | 'query' | 'path'): T {
  const { value: valid, error } = schema.validate(value, { abortEarly: false, convert: true });
  if (error) {
    const problems = error.details.map((d) => ({ where, field: d.path.join('.') || undefined, message: d.message }));
    throw new ValidationError(`invalid ${where}: ${problems.map((p) => p.message).join('; ')}`, { details: problems });
  }
  return valid as T;
}
