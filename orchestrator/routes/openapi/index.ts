import { assembleOpenApi, type OpenApiDocument, type OpenApiFragment } from '../../../shared/openapi/openapi-document';
import { akkioApi } from './akkio';
import { cancelApi } from './cancel';
import { computeApi } from './compute';
import { documentSchemas } from './documents';
import { engineApi } from './engine';
import { eventsApi } from './events';
import { healthApi } from './health';
import { listingApi } from './listing';
import { registrationApi } from './registration';
import { registryApi } from './registry';
import { sitesApi } from './sites';
import { trainerApi } from './trainer';

/** Each API area's fragment; a new area (sites, training) adds its own here. */
export const ORCHESTRATOR_FRAGMENTS: OpenApiFragment[] = [
  documentSchemas,
  healthApi,
  registrationApi,
  listingApi,
  cancelApi,
  computeApi,
  sitesApi,
  eventsApi,
  engineApi,
  trainerApi,
  registryApi,
  akkioApi,
];

export function orchestratorOpenApi(extra: readonly OpenApiFragment[] = []): OpenApiDocument {
  return assembleOpenApi(
    {
      title: 'uplet orchestrator',
      version: '0.1.0',
      description:
        'Problems, algos, data, learnuplets and preduplets (the Morpheo seed contract), leases for compute nodes, cancel, leaderboard. ' +
        'Every refusal is `{error: {code, message, details}}` with a stable code. Send the API key as `X-API-Key` (or `Authorization: Bearer`).',
    },
    [...ORCHESTRATOR_FRAGMENTS, ...extra],
  );
}
