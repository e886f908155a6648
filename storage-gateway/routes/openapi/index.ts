import {
  assembleOpenApi,
  COMMON_ERRORS,
  errors,
  identifierSchema,
  json,
  pathParam,
  type OpenApiDocument,
  type OpenApiFragment,
} from '../../../shared/openapi/openapi-document';
import { BLOB_KINDS } from '../../../shared/contracts/blob-contract';

const params = [pathParam('kind', 'The blob kind', { type: 'string', enum: [...BLOB_KINDS] }), pathParam('uuid', 'The blob')];
const capability = {
  name: 'X-Uplet-Capability',
  in: 'header',
  required: false,
  description: "A task's capability (compute nodes): needed to read data blobs and to write a task's outputs",
  schema: { type: 'string' },
};
const blobHeaders = {
  ETag: { description: 'The sha256, quoted', schema: { type: 'string' } },
  'X-Content-SHA256': { description: 'The sha256 of the whole blob', schema: { type: 'string' } },
  'Content-Length': { schema: { type: 'integer' } },
};
const binary = (description: string) => ({
  description,
  headers: blobHeaders,
  content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
});

export const blobsApi: OpenApiFragment = {
  tags: [
    { name: 'blobs', description: 'Content-addressed blobs: streamed, never buffered whole, checked by sha256' },
    { name: 'health', description: 'Probes, without a key' },
  ],
  schemas: {
    BlobMeta: {
      type: 'object',
      required: ['uuid', 'kind', 'size', 'sha256', 'owner', 'content_type', 'created', 'readers'],
      properties: {
        uuid: identifierSchema,
        kind: { type: 'string', enum: [...BLOB_KINDS] },
        size: { type: 'integer', minimum: 0 },
        sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
        owner: { type: 'string' },
        content_type: { type: 'string' },
        created: { type: 'string', format: 'date-time' },
        readers: { type: 'array', items: { type: 'string' } },
        written_under: {
          type: 'object',
          required: ['kind', 'uplet', 'attempt', 'principal'],
          properties: { kind: { type: 'string' }, uplet: { type: 'string' }, attempt: { type: 'integer' }, principal: { type: 'string' } },
        },
      },
    },
  },
  paths: {
    '/healthz': {
      get: {
        operationId: 'healthz',
        summary: 'Liveness',
        tags: ['health'],
        security: [],
        responses: {
          200: json('Alive', {
            type: 'object',
            required: ['status'],
            properties: { status: { const: 'ok' }, site: { type: 'string', description: "This gateway's site" } },
          }),
        },
      },
    },
    '/blobs/{kind}/{uuid}': {
      put: {
        operationId: 'putBlob',
        summary: 'Upload a blob (streamed); idempotent for identical content',
        tags: ['blobs'],
        parameters: [
          ...params,
          capability,
          {
            name: 'X-Content-SHA256',
            in: 'header',
            required: false,
            description:
              'The sha256 the gateway checks before keeping the blob. It may instead come as an HTTP trailer of a chunked body, announced by `Trailer: X-Content-SHA256` (a missing or malformed announced trailer is a 400; nothing is stored)',
            schema: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
          },
          {
            name: 'X-Uplet-Readers',
            in: 'header',
            required: false,
            description: 'Principals besides compute nodes who may read it, comma-separated',
            schema: { type: 'string' },
          },
        ],
        requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } },
        responses: {
          201: json('Stored', { $ref: '#/components/schemas/BlobMeta' }),
          200: json('Already stored with the same content', { $ref: '#/components/schemas/BlobMeta' }),
          ...errors(...COMMON_ERRORS, 409, 422),
        },
      },
      get: {
        operationId: 'getBlob',
        summary: 'Download a blob (Range supported, one range)',
        tags: ['blobs'],
        parameters: [...params, capability, { name: 'Range', in: 'header', required: false, schema: { type: 'string', example: 'bytes=0-1023' } }],
        responses: { 200: binary('The blob'), 206: binary('The requested range'), ...errors(...COMMON_ERRORS, 416) },
      },
      head: {
        operationId: 'headBlob',
        summary: "A blob's headers",
        tags: ['blobs'],
        parameters: [...params, capability],
        responses: { 200: { description: 'Exists and is readable', headers: blobHeaders }, ...errors(...COMMON_ERRORS) },
      },
    },
    '/blobs/{kind}/{uuid}/meta': {
      get: {
        operationId: 'getBlobMeta',
        summary: "A blob's metadata",
        tags: ['blobs'],
        parameters: [...params, capability],
        responses: { 200: json('Its metadata', { $ref: '#/components/schemas/BlobMeta' }), ...errors(...COMMON_ERRORS) },
      },
    },
  },
};

/** The storage gateway's description; a new area adds its fragment here. */
export function storageOpenApi(extra: readonly OpenApiFragment[] = []): OpenApiDocument {
  return assembleOpenApi(
    {
      title: 'uplet storage gateway',
      version: '0.1.0',
      description:
        'Holds blobs (data, algos, workflows, models, predictions). Data opens only to the compute node holding a task that needs it. Every refusal is `{error: {code, message, details}}`.',
    },
    [blobsApi, ...extra],
  );
}
