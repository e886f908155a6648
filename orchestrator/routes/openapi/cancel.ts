import { COMMON_ERRORS, errors, json, pathParam, type OpenApiFragment, type Operation } from '../../../shared/openapi/openapi-document';

const outcome = json('What was canceled', {
  type: 'object',
  required: ['canceled_learnuplets', 'canceled_preduplets'],
  properties: { canceled_learnuplets: { type: 'integer', minimum: 0 }, canceled_preduplets: { type: 'integer', minimum: 0 } },
});
const cancel = (what: string, id: string, summary: string): Operation => ({
  operationId: id,
  summary,
  tags: ['cancel'],
  parameters: [pathParam('uuid', `The ${what}`)],
  responses: { 200: outcome, ...errors(...COMMON_ERRORS, 409) },
});

/** POST /{algo|problem|preduplet}/{uuid}/cancel (cancel-routes.ts). Owners and admins only. */
export const cancelApi: OpenApiFragment = {
  tags: [{ name: 'cancel', description: 'Withdraw work: queued uplets are canceled at once, running ones stop at their next heartbeat' }],
  paths: {
    '/algo/{uuid}/cancel': { post: cancel('algo', 'cancelAlgo', "Cancel an algo's chain") },
    '/problem/{uuid}/cancel': { post: cancel('problem', 'cancelProblem', "Cancel a problem's queued work; it takes no new algos or predictions") },
    '/preduplet/{uuid}/cancel': { post: cancel('preduplet', 'cancelPreduplet', 'Cancel a prediction') },
  },
};
