import { COMMON_ERRORS, dateTime, errors, json, pathParam, type JsonSchema, type OpenApiFragment } from '../../../shared/openapi/openapi-document';

/** A site name (shared/contracts/sites.ts). */
export const siteNameSchema: JsonSchema = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,31}$' };
const liveWithin = { type: 'integer', minimum: 0, description: 'An agent is live while seen within this many ms' };

/** GET /sites and the agents' ping (site-routes.ts). */
export const sitesApi: OpenApiFragment = {
  tags: [{ name: 'sites', description: 'Each data provider is a site with its own storage gateway and compute agents' }],
  paths: {
    '/sites': {
      get: {
        operationId: 'listSites',
        summary: 'Every site, its gateway and its live agents',
        tags: ['sites'],
        responses: {
          200: json('The sites', {
            type: 'object',
            required: ['sites', 'live_within_ms'],
            properties: {
              live_within_ms: liveWithin,
              sites: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['name', 'gateway_url', 'live_agents'],
                  properties: {
                    name: siteNameSchema,
                    gateway_url: { type: 'string' },
                    live_agents: {
                      type: 'array',
                      items: { type: 'object', required: ['name', 'last_seen'], properties: { name: { type: 'string' }, last_seen: dateTime } },
                    },
                  },
                },
              },
            },
          }),
          ...errors(...COMMON_ERRORS),
        },
      },
    },
    '/sites/{site}/agents/{name}': {
      post: {
        operationId: 'pingAgent',
        summary: "An agent's periodic ping (compute)",
        tags: ['sites', 'compute'],
        parameters: [pathParam('site', "The agent's site", siteNameSchema), pathParam('name', 'The agent', { type: 'string', minLength: 1, maxLength: 200 })],
        responses: {
          200: json('Seen', {
            type: 'object',
            required: ['site', 'name', 'live_within_ms'],
            properties: { site: siteNameSchema, name: { type: 'string' }, live_within_ms: liveWithin },
          }),
          ...errors(...COMMON_ERRORS),
        },
      },
    },
  },
};
