/**
 * OpenAPI 3.1 descriptions assembled from per-area fragments: each route file
 * has its fragment next to it (`routes/openapi/*.ts`), and a new API is one
 * more fragment in its service's list. Schemas are JSON Schema 2020-12, which
 * is what OpenAPI 3.1 uses, so the tests validate answers with Ajv2020 as is.
 */
export type JsonSchema = Record<string, unknown>;

export interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** Omit for the default (an API key); `[]` for an unauthenticated call. */
  security?: Array<Record<string, string[]>>;
  parameters?: Array<Record<string, unknown>>;
  requestBody?: Record<string, unknown>;
  responses: Record<string, Record<string, unknown>>;
}

export type PathItem = Partial<Record<'get' | 'post' | 'put' | 'delete' | 'head' | 'patch', Operation>>;

export interface OpenApiFragment {
  tags?: Array<{ name: string; description: string }>;
  paths: Record<string, PathItem>;
  schemas?: Record<string, JsonSchema>;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  jsonSchemaDialect: string;
  tags: Array<{ name: string; description: string }>;
  paths: Record<string, PathItem>;
  components: { schemas: Record<string, JsonSchema>; responses: Record<string, unknown>; securitySchemes: Record<string, unknown> };
  security: Array<Record<string, string[]>>;
}

export const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
export const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, { type: 'null' }] });

/** An identifier as the services accept it (shared/contracts/identifiers.ts). */
export const identifierSchema: JsonSchema = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' };
export const dateTime: JsonSchema = { type: 'string', format: 'date-time' };

/** A JSON answer with a description. */
export function json(description: string, schema: JsonSchema): Record<string, unknown> {
  return { description, content: { 'application/json': { schema } } };
}

/** Every refusal has the one error shape `{error: {code, message, details}}`. */
export const ERROR_STATUSES = {
  400: 'Bad shape or type (VALIDATION_FAILED), naming each field with where it is',
  401: 'No valid API key (UNAUTHENTICATED)',
  403: 'The key lacks the role, or the resource is not yours (FORBIDDEN)',
  404: 'No such resource or route (NOT_FOUND)',
  409: 'State conflict (CONFLICT, NOT_CLAIMABLE, ALREADY_CLAIMED, LEASE_LOST, …)',
  413: 'Body too large (PAYLOAD_TOO_LARGE)',
  415: 'Compressed or unsupported body (UNSUPPORTED_MEDIA_TYPE)',
  416: 'Range not satisfiable (RANGE_NOT_SATISFIABLE)',
  422: 'Well-formed but not acceptable (UNPROCESSABLE and specific codes)',
  500: 'Internal error (INTERNAL)',
  503: 'A dependency is down; retry later (DEPENDENCY_UNAVAILABLE)',
} as const;
export type ErrorStatus = keyof typeof ERROR_STATUSES;

/** References to the shared error responses, for an operation's `responses`. */
export function errors(...statuses: ErrorStatus[]): Record<string, Record<string, unknown>> {
  return Object.fromEntries(statuses.map((s) => [String(s), { $ref: `#/components/responses/Error${s}` }]));
}

/** The refusals any authenticated call can meet, besides its own. */
export const COMMON_ERRORS: ErrorStatus[] = [400, 401, 403, 404, 413, 415, 500, 503];

const errorSchema: JsonSchema = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: false,
      properties: {
        code: { type: 'string', pattern: '^[A-Z][A-Z0-9_]*$', description: 'Stable code; clients match on it, never on the message' },
        message: { type: 'string' },
        details: { description: 'Where the problem is: a field path, a header, a path parameter (one object or a list)' },
      },
    },
  },
};

export function pathParam(name: string, description: string, schema: JsonSchema = identifierSchema): Record<string, unknown> {
  return { name, in: 'path', required: true, description, schema };
}

export function queryParam(name: string, description: string, schema: JsonSchema): Record<string, unknown> {
  return { name, in: 'query', required: false, description, schema };
}

export function assembleOpenApi(info: OpenApiDocument['info'], fragments: readonly OpenApiFragment[]): OpenApiDocument {
  const doc: OpenApiDocument = {
    openapi: '3.1.0',
    info,
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    tags: [],
    paths: {},
    components: {
      schemas: { Error: errorSchema },
      responses: Object.fromEntries(Object.entries(ERROR_STATUSES).map(([s, d]) => [`Error${s}`, json(d, ref('Error'))])),
      securitySchemes: {
        ApiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        Bearer: { type: 'http', scheme: 'bearer', description: 'The same API key as a bearer token' },
      },
    },
    security: [{ ApiKey: [] }, { Bearer: [] }],
  };
  for (const f of fragments) {
    doc.tags.push(...(f.tags ?? []));
    for (const [path, item] of Object.entries(f.paths)) {
      const existing = (doc.paths[path] ??= {});
      for (const [method, op] of Object.entries(item) as Array<[keyof PathItem, Operation]>) {
        if (existing[method]) throw new Error(`OpenAPI: ${method.toUpperCase()} ${path} is described twice`);
        existing[method] = op;
      }
    }
    for (const [name, schema] of Object.entries(f.schemas ?? {})) {
      if (doc.components.schemas[name]) throw new Error(`OpenAPI: schema ${name} is described twice`);
      doc.components.schemas[name] = schema;
    }
  }
  return doc;
}
