import { json, type OpenApiFragment } from '../../../shared/openapi/openapi-document';

/** Unauthenticated probes (health-routes.ts). */
export const healthApi: OpenApiFragment = {
  tags: [{ name: 'health', description: 'Probes, without a key' }],
  paths: {
    '/healthz': {
      get: {
        operationId: 'healthz',
        summary: 'Liveness',
        tags: ['health'],
        security: [],
        responses: { 200: json('Alive', { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } }) },
      },
    },
    '/readyz': {
      get: {
        operationId: 'readyz',
        summary: 'Readiness: database and broker',
        tags: ['health'],
        security: [],
        responses: {
          200: json('Ready', { type: 'object', required: ['status'], properties: { status: { const: 'ready' } } }),
          503: json('Not ready, with what is missing', {
            type: 'object',
            required: ['status', 'reason'],
            properties: { status: { const: 'unavailable' }, reason: { type: 'string' } },
          }),
        },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        summary: 'Prometheus metrics',
        tags: ['health'],
        security: [],
        responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    },
  },
};
