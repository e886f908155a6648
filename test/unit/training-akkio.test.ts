import { assembleResult, identityOf, memberJobId, requestHashOf, type AkkioTaskDoc } from '../../orchestrator/training/akkio';
import type { EngineModelDoc } from '../../orchestrator/training/engine-documents';
import type { DatasetProfile } from '../../shared/contracts/training-contract';

const profile = {
  row_count: 100,
  columns: ['a', 'b', 'c', 'y', 'z'].map((name) => ({ name, type: 'numeric', missing: 0, distinct: 50 })),
} as unknown as DatasetProfile;
const task = (fields: string[], ignored: string[] = []): AkkioTaskDoc => ({
  _id: 't',
  task_id: 't',
  owner: 'p',
  identity: 'h',
  members: [],
  submitted: true,
  fenced: true,
  failure_reason: null,
  timestamp_creation: new Date(),
  request: { dataset_id: 'd', predict_fields: fields, ignore_fields: ignored, duration: 10, extra_attention: false },
});
const model = (label: string, importance: Record<string, number>, stats: unknown[] = []): EngineModelDoc =>
  ({
    _id: `${label}-m`,
    model_id: `${label}-m`,
    label_column: label,
    task_kind: 'regression',
    report: { stats, field_importance: importance, data_story: [{ name: label, type: 'numeric', outcomes: [] }], metrics: { rmse: 1 } },
  }) as unknown as EngineModelDoc;

describe('the Akkio front door, pure parts', () => {
  test('an Idempotency-Key compares the validated body: the same request in any ignore_fields order, not another duration or force', () => {
    const body = { dataset_id: 'd', predict_fields: ['y'], ignore_fields: ['a', 'b'], duration: 10 as const, extra_attention: false, force: false };
    expect(requestHashOf(body)).toBe(requestHashOf({ ...body, ignore_fields: ['b', 'a'] }));
    expect(requestHashOf(body)).not.toBe(requestHashOf({ ...body, duration: 60 }));
    expect(requestHashOf(body)).not.toBe(requestHashOf({ ...body, force: true }));
    expect(requestHashOf(body)).not.toBe(requestHashOf({ ...body, predict_fields: ['z'] }));
  });

  test("a task's jobs have ids derived from it, one per predict field", () => {
    expect(memberJobId('akkio-0123456789abcdef', 1)).toBe('job-0123456789abcdef-1');
  });

  test('the force identity: ignored fields in any order are the same request; duration, extra_attention, owner, field order are not', () => {
    const base = { dataset_id: 'd', predict_fields: ['y'], ignore_fields: ['a', 'b'], duration: 10 as const, extra_attention: false };
    expect(identityOf('p', base)).toBe(identityOf('p', { ...base, ignore_fields: ['b', 'a'] }));
    expect(identityOf('p', base)).not.toBe(identityOf('q', base));
    expect(identityOf('p', base)).not.toBe(identityOf('p', { ...base, duration: 60 }));
    expect(identityOf('p', base)).not.toBe(identityOf('p', { ...base, extra_attention: true }));
  });

  test('one field: the model itself; importance over the input fields only, normalised; field index in stats', () => {
    const r = assembleResult(task(['y'], ['z']), [model('y', { a: 3, b: 1, c: 0 }, [{ field: 'y', field_name: 'y', rmse: 1, count: 20 }])], profile) as any;
    expect(r.model_id).toBe('y-m');
    expect(r.field_importance).toEqual({ a: 0.75, b: 0.25, c: 0 });
    expect(r.stats).toEqual([[{ field: 0, field_name: 'y', rmse: 1, count: 20 }]]);
  });

  test('several fields: a group id, members listed, importances averaged (still summing to 1), all-zero → equal shares', () => {
    const r = assembleResult(task(['y', 'z']), [model('y', { a: 1, b: 0, c: 0 }), model('z', { a: 0, b: 0, c: 0 })], profile) as any;
    expect(r.model_id).toBe('t-models');
    expect(r.models.map((m: any) => [m.field, m.model_id])).toEqual([
      ['y', 'y-m'],
      ['z', 'z-m'],
    ]);
    expect(r.field_importance.a).toBeCloseTo(0.5 + 1 / 6, 12);
    expect(r.field_importance.b).toBeCloseTo(1 / 6, 12);
    expect(Object.values(r.field_importance as Record<string, number>).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
    expect(r.data_story.map((d: any) => d.name)).toEqual(['y', 'z']);
  });
});
