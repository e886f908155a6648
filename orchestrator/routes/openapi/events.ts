import { COMMON_ERRORS, errors, identifierSchema, queryParam, type OpenApiFragment } from '../../../shared/openapi/openapi-document';

/** GET /events (event-stream-routes.ts): the status events as Server-Sent Events. */
export const eventsApi: OpenApiFragment = {
  tags: [{ name: 'events', description: 'Every status change, as it happens (the topic exchange `<prefix>.events`, whichever replica made it)' }],
  schemas: {
    StatusEvent: {
      type: 'object',
      required: ['subject', 'id', 'status', 'at'],
      properties: {
        subject: { type: 'string', description: 'learnuplet, preduplet, job, model, …' },
        id: { type: 'string' },
        status: { type: 'string' },
        at: { type: 'string', format: 'date-time' },
        attempt: { type: 'integer' },
        scope: { type: 'object', additionalProperties: { type: 'string' } },
        detail: { type: 'object' },
      },
    },
  },
  paths: {
    '/events': {
      get: {
        operationId: 'streamEvents',
        summary: 'Status events as Server-Sent Events (`event: status`, `data: <StatusEvent>`)',
        tags: ['events'],
        description: 'Notifications, not the record: re-read the documents you show, and again after a reconnect. A comment line is sent every 15 s.',
        parameters: [
          queryParam('problem', 'Only the events of this problem', identifierSchema),
          queryParam('subject', 'Only this subject (e.g. learnuplet)', { type: 'string' }),
        ],
        responses: {
          200: {
            description: 'The stream',
            content: { 'text/event-stream': { schema: { type: 'string' }, itemSchema: { $ref: '#/components/schemas/StatusEvent' } } },
          },
          ...errors(...COMMON_ERRORS),
        },
      },
    },
  },
};
