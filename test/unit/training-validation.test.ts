import type { AkkioTrainRequest, TrainerRunRequest } from '../../shared/contracts/training-contract';
import { filterValueProblem, validateAkkioTrain, validateTrainerRun } from '../../orchestrator/training/request-validation';
import {
  ontologyBody,
  parseAkkioTrainBody,
  registryModelCreateBody,
  registryModelUpdateBody,
  trainerRunBody,
} from '../../orchestrator/training/trainer-run-request';
import { irisLikeProfile } from './training-fixtures';

const run = (body: object) => trainerRunBody.validate(body, { abortEarly: false });
const validRun = (body: object): TrainerRunRequest => {
  const { error, value } = run(body);
  if (error) throw error;
  return value as TrainerRunRequest;
};
const task = { label_column: 'species', task_kind: 'classification' };

describe('trainer run schema', () => {
  test('defaults per DESIGN.md', () => {
    expect(validRun({ dataset_id: 'd1', task })).toEqual({
      dataset_id: 'd1',
      filter: null,
      task,
      model_types: null,
      metrics: null,
      strategy: 'optuna',
      n_trials: 4,
      n_splits: null,
      ensemble: false,
      grid_size: null,
      teacher_model_id: null,
      teacher_predict_url: null,
      teacher_predict_headers: null,
      random_state: 42,
    });
    expect(validRun({ dataset_id: 'd1', task, filter: { col: 'petals', value: 1 } }).filter).toEqual({ col: 'petals', kind: 'cmp', op: '==', value: 1 });
  });

  test('shape errors', () => {
    expect(run({ dataset_id: 'd1', task, n_trials: 0 }).error?.details[0]?.path).toEqual(['n_trials']);
    expect(run({ dataset_id: 'd1', task, n_splits: 1 }).error?.details[0]?.path).toEqual(['n_splits']);
    expect(run({ dataset_id: 'd1', task, strategy: 'grid' }).error?.details[0]?.path).toEqual(['strategy']);
    expect(run({ dataset_id: 'd1', task: { label_column: 'x', task_kind: 'ranking' } }).error?.details[0]?.path).toEqual(['task', 'task_kind']);
    expect(run({ dataset_id: 'd1', task, filter: { col: 'x', kind: 'sql', value: 1 } }).error).toBeDefined();
    expect(run({ dataset_id: 'd1', task, surprise: 1 }).error?.details[0]?.path).toEqual(['surprise']);
  });

  test('teacher: one or the other, headers only with a url', () => {
    const both = run({ dataset_id: 'd1', task, teacher_model_id: 'm1', teacher_predict_url: 'https://t.example/p' });
    expect(both.error?.details[0]?.message).toBe('give teacher_model_id or teacher_predict_url, not both');
    expect(run({ dataset_id: 'd1', task, teacher_model_id: 'm1', teacher_predict_url: null }).error).toBeUndefined();
    expect(run({ dataset_id: 'd1', task, teacher_predict_url: 'https://t.example/p', teacher_predict_headers: { a: 'b' } }).error).toBeUndefined();
    expect(run({ dataset_id: 'd1', task, teacher_predict_headers: { a: 'b' } }).error?.details[0]?.path).toEqual(['teacher_predict_headers']);
  });

  test('teacher headers: HTTP names, not those the agent sets, printable values never echoed', () => {
    const headers = (h: Record<string, string>) =>
      run({ dataset_id: 'd1', task, teacher_predict_url: 'https://t.example/p', teacher_predict_headers: h }).error;
    expect(headers({ authorization: 'Bearer s3cret', 'X-Api-Key': 'k' })).toBeUndefined();
    expect(headers({ 'bad name': 'v' })?.message).toMatch(/"teacher_predict_headers.bad name" is not a header the agent may send/);
    expect(headers({ 'Content-Type': 'text/plain' })?.message).toMatch(/not one it sets itself \(content-type, content-length/);
    const split = headers({ 'x-key': 's3cret\r\nx-evil: 1' });
    expect(split?.details[0]?.path).toEqual(['teacher_predict_headers', 'x-key']);
    expect(split?.message).toMatch(/must be printable ASCII/);
    expect(split?.message).not.toContain('s3cret');
  });
});

describe('trainer run against the profile', () => {
  test('an acceptable request has no problem', () => {
    expect(
      validateTrainerRun(
        irisLikeProfile,
        validRun({
          dataset_id: 'd1',
          task,
          metrics: ['auc', 'neg_class_error'],
          model_types: ['regression', 'xgboost'],
          filter: [
            { col: 'seen_at', op: '>=', value: '2020-02-01' },
            { col: 'rare', value: 'yes' },
            { col: 'notes', op: 'is_null' },
          ],
        }),
      ),
    ).toEqual([]);
  });

  test('each problem named at its field', () => {
    const problems = validateTrainerRun(
      irisLikeProfile,
      validRun({
        dataset_id: 'd1',
        task: { label_column: 'species', task_kind: 'regression' },
        metrics: ['rmse', 'auc'],
        model_types: ['xgboost', 'tabm'],
        filter: [
          { col: 'nope', value: 1 },
          { col: 'sepal_length', value: 'abc' },
          { col: 'species', op: '<', value: 'a' },
          { col: 'petals', op: 'in', value: 1 },
          { col: 'petals', op: 'is_null', value: 3 },
          { col: 'seen_at', value: '01/02/2020' },
          { col: 'petals', op: 'not_in', value: [1, 'x'] },
          { col: 'rare', value: 'maybe' },
        ],
      }),
    );
    expect(problems.map((p) => [p.loc, p.type])).toEqual([
      [['body', 'task', 'label_column'], 'value_error.label_kind'],
      [['body', 'filter', 0, 'col'], 'value_error.unknown_column'],
      [['body', 'filter', 1, 'value'], 'value_error.filter_value'],
      [['body', 'filter', 2, 'op'], 'value_error.filter_op'],
      [['body', 'filter', 3, 'value'], 'value_error.filter_value'],
      [['body', 'filter', 4, 'value'], 'value_error.filter_value'],
      [['body', 'filter', 5, 'value'], 'value_error.filter_value'],
      [['body', 'filter', 6, 'value', 1], 'value_error.filter_value'],
      [['body', 'filter', 7, 'value'], 'value_error.filter_value'],
      [['body', 'model_types', 1], 'value_error.unknown_family'],
      [['body', 'metrics', 1], 'value_error.unknown_metric'],
    ]);
    expect(problems[0]?.msg).toBe('a regression label must be numeric; species is category');
    expect(problems[9]?.msg).toContain('known: decision_tree,');
  });

  test('unknown label column', () => {
    expect(
      validateTrainerRun(irisLikeProfile, validRun({ dataset_id: 'd1', task: { label_column: 'Species', task_kind: 'classification' } }))[0],
    ).toMatchObject({
      loc: ['body', 'task', 'label_column'],
      type: 'value_error.unknown_column',
    });
  });

  test('filter value coercion mirrors the Python', () => {
    expect(filterValueProblem('1e3', 'numeric')).toBeUndefined();
    expect(filterValueProblem(true, 'numeric')).toBe('a boolean is not a number');
    expect(filterValueProblem('2020-01-01T10:00:00+02:00', 'timestamp')).toBeUndefined();
    expect(filterValueProblem('2020-13-45', 'timestamp')).toBe('not a valid date');
    expect(filterValueProblem('NO', 'boolean')).toBeUndefined();
    expect(filterValueProblem(3, 'category')).toBeUndefined();
  });
});

describe('Akkio train', () => {
  test('defaults and unknown properties ignored', () => {
    expect(parseAkkioTrainBody({ dataset_id: 'ds', predict_fields: ['species'], duration: 60, colour: 'red' })).toEqual({
      ok: true,
      value: { dataset_id: 'ds', predict_fields: ['species'], duration: 60, extra_attention: false, force: false, ignore_fields: [] },
    });
  });

  test('422 detail: missing duration, bad tier, empty predict_fields', () => {
    expect(parseAkkioTrainBody({ dataset_id: 'ds', predict_fields: ['species'] })).toEqual({
      ok: false,
      problems: [{ loc: ['body', 'duration'], msg: 'duration is required', type: 'value_error.missing' }],
    });
    const bad = parseAkkioTrainBody({ dataset_id: 'ds', predict_fields: [], duration: 61 });
    expect(bad.ok ? [] : bad.problems.map((p) => p.loc)).toEqual([
      ['body', 'predict_fields'],
      ['body', 'duration'],
    ]);
    const wrongType = parseAkkioTrainBody({ dataset_id: 'ds', predict_fields: 'species', duration: 10 });
    expect(wrongType.ok ? undefined : wrongType.problems[0]?.type).toBe('type_error.array');
  });

  test('fields against the profile', () => {
    const request: AkkioTrainRequest = {
      dataset_id: 'ds',
      predict_fields: ['species', 'nope', 'notes'],
      duration: 10,
      extra_attention: false,
      force: false,
      ignore_fields: ['species', 'ghost'],
    };
    expect(validateAkkioTrain(irisLikeProfile, request).map((p) => [p.loc, p.type])).toEqual([
      [['body', 'predict_fields', 1], 'value_error.unknown_column'],
      [['body', 'predict_fields', 2], 'value_error.label_kind'],
      [['body', 'ignore_fields', 0], 'value_error.label_ignored'],
      [['body', 'ignore_fields', 1], 'value_error.unknown_column'],
    ]);
    const everything = irisLikeProfile.columns.map((c) => c.name).filter((n) => n !== 'species');
    expect(validateAkkioTrain(irisLikeProfile, { ...request, predict_fields: ['species'], ignore_fields: everything })[0]?.type).toBe(
      'value_error.no_input_fields',
    );
    expect(validateAkkioTrain(irisLikeProfile, { ...request, predict_fields: ['species', 'sepal_length'], ignore_fields: ['notes'] })).toEqual([]);
  });
});

describe('registry and ontology bodies', () => {
  test('create: required fields and training_config defaults', () => {
    const { value, error } = registryModelCreateBody.validate({ project_id: 'p1', ontology_id: 'o1', name: 'churn', type: 'regression' });
    expect(error).toBeUndefined();
    expect(value.training_config).toEqual({ train_test_split: 0.8, random_seed: 42, learning_rate: null, batch_size: null });
    expect(registryModelCreateBody.validate({ project_id: 'p1', name: 'x', type: 'regression' }).error?.details[0]?.path).toEqual(['ontology_id']);
  });

  test('update: only the listed fields, at least one', () => {
    expect(registryModelUpdateBody.validate({ status: 'archived', performance_metrics: { accuracy: 0.9 } }).error).toBeUndefined();
    expect(registryModelUpdateBody.validate({ type: 'xgboost' }).error?.details[0]?.path).toEqual(['type']);
    expect(registryModelUpdateBody.validate({}).error).toBeDefined();
    expect(registryModelUpdateBody.validate({ status: 'live' }).error).toBeDefined();
  });

  test('ontology: exactly one target', () => {
    const fields = [
      { name: 'a', type: 'numeric' },
      { name: 'b', type: 'category', role: 'target' },
    ];
    expect(ontologyBody.validate({ project_id: 'p1', name: 'o', fields }).error).toBeUndefined();
    expect(ontologyBody.validate({ project_id: 'p1', name: 'o', fields: [fields[0], { ...fields[0], name: 'c' }] }).error?.message).toContain(
      'exactly one target (found 0)',
    );
  });
});
