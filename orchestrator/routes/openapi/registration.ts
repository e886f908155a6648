import { siteNameSchema } from './sites';
import { COMMON_ERRORS, errors, identifierSchema, json, ref, type JsonSchema, type OpenApiFragment } from '../../../shared/openapi/openapi-document';

const oneOrMany = (description: string): JsonSchema => ({ description, oneOf: [identifierSchema, { type: 'array', items: identifierSchema, minItems: 1 }] });
const body = (schema: JsonSchema) => ({ required: true, content: { 'application/json': { schema } } });
const refusals = errors(...COMMON_ERRORS, 409, 422);

/** POST /problem, /algo, /data, /prediction (registration-routes.ts). */
export const registrationApi: OpenApiFragment = {
  tags: [
    { name: 'registration', description: 'Organizers post problems, algo authors algos, data providers data; anyone but a compute node requests predictions' },
  ],
  paths: {
    '/problem': {
      post: {
        operationId: 'postProblem',
        summary: 'Post a problem (organizer)',
        tags: ['registration'],
        requestBody: body({
          type: 'object',
          additionalProperties: false,
          required: ['uuid', 'workflow', 'test_dataset', 'size_train_dataset'],
          properties: {
            uuid: identifierSchema,
            workflow: { ...identifierSchema, description: 'Storage uuid of the workflow archive' },
            test_dataset: { type: 'array', items: identifierSchema, minItems: 1, uniqueItems: true },
            size_train_dataset: { type: 'integer', minimum: 1, description: 'Data items per minibatch (per rank)' },
            metric_direction: { type: 'string', enum: ['higher', 'lower'], default: 'higher' },
            site: { ...siteNameSchema, description: 'The site whose gateway holds the workflow (default `default`)' },
          },
        }),
        responses: { 201: json('Created', { type: 'object', required: ['new_problem'], properties: { new_problem: ref('Problem') } }), ...refusals },
      },
    },
    '/algo': {
      post: {
        operationId: 'postAlgo',
        summary: 'Post an algo to a problem (algo author): creates one learnuplet per minibatch',
        tags: ['registration'],
        requestBody: body({
          type: 'object',
          additionalProperties: false,
          required: ['uuid', 'name', 'problem'],
          properties: {
            uuid: identifierSchema,
            name: { type: 'string', minLength: 1, maxLength: 200 },
            problem: identifierSchema,
            site: { ...siteNameSchema, description: 'The site whose gateway holds the algo archive' },
          },
        }),
        responses: {
          201: json('Created', {
            type: 'object',
            required: ['new_algo', 'new_learnuplets'],
            properties: { new_algo: ref('Algo'), new_learnuplets: { type: 'integer', minimum: 0 } },
          }),
          ...refusals,
        },
      },
    },
    '/data': {
      post: {
        operationId: 'postData',
        summary: 'Register data (data provider); an existing uuid of yours gains the new problems',
        tags: ['registration'],
        requestBody: body({
          type: 'object',
          additionalProperties: false,
          required: ['uuid', 'problems'],
          properties: {
            uuid: oneOrMany('One data uuid or a list'),
            problems: {
              description: 'One problem or a list; [] registers data for your own prediction requests only',
              oneOf: [identifierSchema, { type: 'array', items: identifierSchema }],
            },
            site: { ...siteNameSchema, description: 'The site whose gateway holds the data (default `default`); its train data is computed on only there' },
          },
        }),
        responses: {
          201: json('Created: `new_datas` lists only the data this call created', dataAnswer()),
          200: json('Nothing new: the same data and problems again', dataAnswer()),
          ...refusals,
        },
      },
    },
    '/prediction': {
      post: {
        operationId: 'postPrediction',
        summary: 'Request predictions with the best model of a problem',
        tags: ['registration'],
        requestBody: body({
          type: 'object',
          additionalProperties: false,
          required: ['data', 'problem'],
          properties: { data: oneOrMany('Data uuids (your own)'), problem: identifierSchema },
        }),
        responses: {
          201: json('Requested', {
            type: 'object',
            required: ['new_preduplets', 'preduplets'],
            properties: { new_preduplets: { type: 'integer', minimum: 0 }, preduplets: { type: 'array', items: identifierSchema } },
          }),
          ...refusals,
        },
      },
    },
  },
};

function dataAnswer(): JsonSchema {
  return {
    type: 'object',
    required: ['new_datas', 'new_learnuplets'],
    properties: { new_datas: { type: 'array', items: ref('Data') }, new_learnuplets: { type: 'integer', minimum: 0 } },
  };
}
