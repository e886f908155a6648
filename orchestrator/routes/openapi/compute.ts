import { COMMON_ERRORS, errors, identifierSchema, json, pathParam, ref, type JsonSchema, type OpenApiFragment } from '../../../shared/openapi/openapi-document';
import { siteNameSchema } from './sites';
import { claimAnswerKey, reportAnswerKey, TASK_KINDS, type TaskKind } from '../../../shared/contracts/work-contract';

const DOC: Record<TaskKind, string> = {
  learnuplet: 'Learnuplet',
  preduplet: 'Preduplet',
  profile: 'ProfileTask',
  trial: 'Trial',
  final: 'FinalTask',
  synthesize: 'SynthesizeTask',
  teach: 'TeachTask',
};
const refusals = errors(...COMMON_ERRORS, 409, 422);
const body = (schema: JsonSchema) => ({ required: true, content: { 'application/json': { schema } } });
const kindParam = pathParam('kind', 'The task kind', { type: 'string', enum: [...TASK_KINDS] });
const uuidParam = pathParam('uuid', 'The task');
const leaseTerms: Record<string, JsonSchema> = {
  attempt: { type: 'integer', minimum: 1 },
  expires_at: { type: 'string', format: 'date-time' },
  capability: { type: 'string', description: "Opens the task's data blobs and authorises its outputs at the storage gateway, until the lease ends" },
  writes: { type: 'array', items: { type: 'string' } },
};
/** One answer shape per kind (its keys carry the kind's name); a new kind in TASK_KINDS extends these. */
const perKind = (shape: (kind: TaskKind) => JsonSchema): JsonSchema => ({ anyOf: TASK_KINDS.map(shape) });
const claimAnswer = perKind((k) => ({
  type: 'object',
  required: [claimAnswerKey(k), k, 'lease'],
  properties: {
    [claimAnswerKey(k)]: identifierSchema,
    [k]: ref(DOC[k]),
    site: { ...siteNameSchema, description: 'The site the agent works at' },
    blob_sites: { type: 'object', additionalProperties: { type: 'string' }, description: 'The site of every blob of the task (`<kind>/<uuid>` → site)' },
    blob_locations: { type: 'object', additionalProperties: { type: 'string' }, description: 'The gateway URL of the blobs held at another site' },
    lease: { type: 'object', required: ['token', ...Object.keys(leaseTerms)], properties: { token: { type: 'string' }, ...leaseTerms } },
  },
}));
const reportAnswer = (kinds: readonly TaskKind[]) => ({
  anyOf: kinds.map((k) => ({ type: 'object', required: [reportAnswerKey(k), k], properties: { [reportAnswerKey(k)]: identifierSchema, [k]: ref(DOC[k]) } })),
});
const leaseBody = body({ type: 'object', additionalProperties: false, required: ['lease_token'], properties: { lease_token: { type: 'string' } } });
const failed = {
  type: 'object',
  required: ['status', 'reason'],
  properties: { status: { const: 'failed' }, reason: { type: 'string' }, log_tail: { type: 'string' }, lease_token: { type: 'string' } },
};
const perfs = {
  description: "Per-file scores: a list in the task's order, or a map data uuid → score",
  oneOf: [
    { type: 'array', items: { type: 'number' } },
    { type: 'object', additionalProperties: { type: 'number' } },
  ],
};
const learnDone = {
  type: 'object',
  required: ['status', 'perf', 'train_perf', 'test_perf'],
  properties: { status: { const: 'done' }, perf: { type: 'number' }, train_perf: perfs, test_perf: perfs, lease_token: { type: 'string' } },
};
const predDone = {
  type: 'object',
  required: ['status', 'prediction_storage_uuid'],
  properties: { status: { const: 'done' }, prediction_storage_uuid: identifierSchema, lease_token: { type: 'string' } },
};
const synthDone = {
  type: 'object',
  required: ['status', 'data_storage_uuid'],
  properties: {
    status: { const: 'done' },
    data_storage_uuid: { ...identifierSchema, description: 'The data blob `<task>-a<attempt>-data` written under this lease' },
    result: { type: 'object' },
    lease_token: { type: 'string' },
  },
};
const teachDone = {
  type: 'object',
  required: ['status', 'result', 'targets_storage_uuid'],
  properties: {
    status: { const: 'done' },
    targets_storage_uuid: { ...identifierSchema, description: "The teacher's targets, the model blob `<task>-a<attempt>-targets` written under this lease" },
    result: { type: 'object' },
    lease_token: { type: 'string' },
  },
};

/** The compute nodes' calls (compute-routes.ts; the wire contract is shared/contracts/work-contract.ts). Role `compute` only. */
export const computeApi: OpenApiFragment = {
  tags: [{ name: 'compute', description: 'For compute nodes: claim a task under a lease, heartbeat, release, report' }],
  paths: {
    '/worker/{kind}/{uuid}': {
      post: {
        operationId: 'claimTask',
        summary: 'Claim a todo task: its status becomes pending under a lease',
        tags: ['compute'],
        parameters: [kindParam, uuidParam],
        requestBody: body({
          type: 'object',
          additionalProperties: false,
          required: ['worker'],
          properties: {
            worker: { type: 'string', minLength: 1, maxLength: 200 },
            site: { ...siteNameSchema, description: "The agent's site (or the X-Uplet-Site header); a task of another site is 403 WRONG_SITE" },
          },
        }),
        responses: {
          200: json("Claimed: the seed's `<kind>_worker_set` key carries the uuid; the document and the lease travel beside it", claimAnswer),
          ...refusals,
        },
      },
    },
    '/worker/{kind}/{uuid}/heartbeat': {
      post: {
        operationId: 'heartbeatTask',
        summary: 'Extend the lease (a fresh capability comes with it)',
        tags: ['compute'],
        parameters: [kindParam, uuidParam],
        requestBody: leaseBody,
        responses: {
          200: json('Extended', {
            type: 'object',
            required: ['lease'],
            properties: { lease: { type: 'object', required: Object.keys(leaseTerms), properties: leaseTerms } },
          }),
          ...refusals,
        },
      },
    },
    '/worker/{kind}/{uuid}/release': {
      post: {
        operationId: 'releaseTask',
        summary: 'Give the task back (todo again)',
        tags: ['compute'],
        parameters: [kindParam, uuidParam],
        requestBody: leaseBody,
        responses: {
          200: json(
            'Released',
            perKind((k) => ({ type: 'object', required: [`released_${k}`, k], properties: { [`released_${k}`]: identifierSchema, [k]: ref(DOC[k]) } })),
          ),
          ...refusals,
        },
      },
    },
    '/worker/{kind}/{uuid}/report': {
      post: {
        operationId: 'reportTask',
        summary: 'Report a task of any kind (done or failed)',
        tags: ['compute'],
        parameters: [kindParam, uuidParam],
        requestBody: body({ oneOf: [learnDone, predDone, synthDone, teachDone, failed] }),
        responses: { 200: json('Recorded', reportAnswer(TASK_KINDS)), ...refusals },
      },
    },
    '/learndone/{uuid}': {
      post: {
        operationId: 'learnDone',
        summary: "Report a learnuplet (the seed's path)",
        tags: ['compute'],
        parameters: [uuidParam],
        requestBody: body({ oneOf: [learnDone, failed] }),
        responses: { 200: json('Recorded', reportAnswer(['learnuplet'])), ...refusals },
      },
    },
    '/preddone/{uuid}': {
      post: {
        operationId: 'predDone',
        summary: "Report a preduplet (the seed's path)",
        tags: ['compute'],
        parameters: [uuidParam],
        requestBody: body({ oneOf: [predDone, failed] }),
        responses: { 200: json('Recorded', reportAnswer(['preduplet'])), ...refusals },
      },
    },
  },
};
