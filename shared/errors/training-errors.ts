import { ConflictError, UnprocessableError } from './uplet-error';

/**
 * Errors of the training engine's rules. Each names what was asked and what is known, so a
 * client can correct its request without reading the docs; the codes are stable.
 */

/** A model family id (or registry model type) that the engine does not ship: 422. */
export class UnknownFamilyError extends UnprocessableError {
  constructor(
    readonly requested: string,
    readonly known: readonly string[],
  ) {
    super(`unknown model family ${JSON.stringify(requested)}; known: ${known.join(', ')}`, {
      code: 'UNKNOWN_FAMILY',
      details: { requested, known },
    });
  }
}

/** A metric name that is unknown, or not one of the task kind's: 422. */
export class UnknownMetricError extends UnprocessableError {
  constructor(
    readonly requested: string,
    readonly known: readonly string[],
    reason?: string,
  ) {
    super(reason ?? `unknown metric ${JSON.stringify(requested)}; known: ${known.join(', ')}`, {
      code: 'UNKNOWN_METRIC',
      details: { requested, known },
    });
  }
}

/** A status change the current status does not allow (a state conflict): 409. */
export class IllegalTransitionError extends ConflictError {
  constructor(
    readonly subject: string,
    readonly current: string,
    readonly requested: string,
    readonly allowed: readonly string[],
  ) {
    super(`${subject} cannot go from ${current} to ${requested}; from ${current} it may go to: ${allowed.length ? allowed.join(', ') : 'nothing (final)'}`, {
      code: 'ILLEGAL_TRANSITION',
      details: { current, requested, allowed },
    });
  }
}
