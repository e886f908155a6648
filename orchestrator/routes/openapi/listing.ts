import {
  COMMON_ERRORS,
  errors,
  identifierSchema,
  json,
  nullable,
  pathParam,
  queryParam,
  ref,
  type OpenApiFragment,
  type Operation,
  type PathItem,
} from '../../../shared/openapi/openapi-document';
import { listQueries, type CollectionName } from '../request-schemas';

const PLURAL: Record<CollectionName, string> = { problem: 'problems', algo: 'algos', data: 'datas', learnuplet: 'learnuplets', preduplet: 'preduplets' };
const SCHEMA: Record<CollectionName, string> = { problem: 'Problem', algo: 'Algo', data: 'Data', learnuplet: 'Learnuplet', preduplet: 'Preduplet' };
const refusals = errors(...COMMON_ERRORS);

/** Query filters as the Joi schemas accept them: the description is generated from them, so it cannot list a filter the route refuses. */
function filters(name: CollectionName): Array<Record<string, unknown>> {
  const described = listQueries[name].describe() as { keys: Record<string, { type: string; flags?: { only?: boolean }; allow?: unknown[] }> };
  return Object.entries(described.keys).map(([key, d]) => {
    if (key === 'limit') return queryParam('limit', 'Page size (default 100)', { type: 'integer', minimum: 1, maximum: 1000 });
    if (key === 'offset') return queryParam('offset', 'Documents to skip (default 0)', { type: 'integer', minimum: 0 });
    if (d.flags?.only && d.allow) return queryParam(key, `Equal to one of ${d.allow.join(', ')}`, { type: 'string', enum: d.allow });
    return queryParam(key, `Equal to this ${key}`, d.type === 'number' ? { type: 'integer' } : { type: 'string' });
  });
}

function collectionPaths(name: CollectionName): Record<string, PathItem> {
  const plural = PLURAL[name];
  const list = (alias: boolean): Operation => ({
    operationId: `list${SCHEMA[name]}s${alias ? 'Alias' : ''}`,
    summary: `List ${plural} (filters and pagination)`,
    tags: ['listing'],
    parameters: filters(name),
    responses: {
      200: json(`A page of ${plural}`, {
        type: 'object',
        required: [plural, 'limit', 'offset', 'next_offset'],
        properties: {
          [plural]: { type: 'array', items: ref(SCHEMA[name]) },
          limit: { type: 'integer' },
          offset: { type: 'integer' },
          next_offset: nullable({ type: 'integer' }),
        },
      }),
      ...refusals,
    },
  });
  const one = (alias: boolean): Operation => ({
    operationId: `get${SCHEMA[name]}${alias ? 'Alias' : ''}`,
    summary: `One ${name}`,
    tags: ['listing'],
    parameters: [pathParam('uuid', `The ${name}'s uuid`)],
    responses: { 200: json(`The ${name}`, ref(name === 'problem' ? 'ProblemDetail' : SCHEMA[name])), ...refusals },
  });
  const singular = `/${name}`;
  const aliasPath = name === 'data' ? '/datas' : `/${plural}`;
  return {
    [singular]: { get: list(false) },
    [aliasPath]: { get: list(true) },
    [`${singular}/{uuid}`]: { get: one(false) },
    [`${aliasPath}/{uuid}`]: { get: one(true) },
  };
}

const leaderboard = (alias: boolean): Operation => ({
  operationId: `getLeaderboard${alias ? 'Alias' : ''}`,
  summary: "A problem's leaderboard: each algo's best done rank",
  tags: ['listing'],
  parameters: [pathParam('uuid', 'The problem')],
  responses: {
    200: json("Rows best first (by the problem's metric direction), algos without a done rank last", {
      type: 'object',
      required: ['problem', 'metric_direction', 'leaderboard'],
      properties: {
        problem: identifierSchema,
        metric_direction: { type: 'string', enum: ['higher', 'lower'] },
        leaderboard: {
          type: 'array',
          items: {
            type: 'object',
            required: ['algo', 'name', 'owner', 'best_perf', 'model', 'learnuplet', 'rank', 'ranks', 'by_status'],
            properties: {
              algo: identifierSchema,
              name: { type: 'string' },
              owner: { type: 'string' },
              best_perf: nullable({ type: 'number' }),
              model: nullable({ type: 'string' }),
              learnuplet: nullable(identifierSchema),
              rank: nullable({ type: 'integer' }),
              ranks: { type: 'integer', minimum: 0 },
              by_status: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } },
            },
          },
        },
      },
    }),
    ...refusals,
  },
});

/** GET /{collection}, /{collection}/{uuid} (seed names and plural aliases), and the leaderboard (listing-routes.ts). */
export const listingApi: OpenApiFragment = {
  tags: [{ name: 'listing', description: 'Read the collections (any key)' }],
  paths: {
    ...Object.assign({}, ...(Object.keys(PLURAL) as CollectionName[]).map(collectionPaths)),
    '/problem/{uuid}/leaderboard': { get: leaderboard(false) },
    '/problems/{uuid}/leaderboard': { get: leaderboard(true) },
  },
};
