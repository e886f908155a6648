import type {
  AkkioTrainRequest,
  ColumnProfile,
  ColumnType,
  DatasetProfile,
  FilterOp,
  RowFilter,
  TaskKind,
  TrainerRunRequest,
  ValidationProblem,
} from '../../shared/contracts/training-contract';
import { UpletError } from '../../shared/errors/uplet-error';
import { columnNames, findColumn, inferTaskKind, labelCheck } from './dataset-profile';
import { resolveFamily } from './families';
import { checkMetric } from './metrics';

/**
 * A training request checked against its dataset's profile. Every function returns all the
 * problems it finds (`[]` when the request is acceptable), each `{loc, msg, type}` with `loc`
 * starting at `body`; the routes answer them as 422 (Akkio: `{detail: problems}`, others:
 * `{error: {code, message, details: problems}}`). Type codes are stable:
 *
 * | type | when |
 * |---|---|
 * | `value_error.unknown_column` | a label, predict field, ignored field or filter column not in the dataset |
 * | `value_error.label_kind` | a label the task kind cannot use (regression on a category, text label …) |
 * | `value_error.label_ignored` | a label (predict field) also listed in ignore_fields |
 * | `value_error.no_input_fields` | nothing left to learn from once labels and ignored fields are removed |
 * | `value_error.filter_op` | an ordering op on a column that is neither numeric nor timestamp |
 * | `value_error.filter_value` | a value that does not coerce to the column's type, a missing or extra value, a non-list for in/not_in |
 * | `value_error.unknown_family` | a model type that is not a known family |
 * | `value_error.unknown_metric` | an unknown metric, or one of the other task kind |
 */
export type Loc = ValidationProblem['loc'];

const ORDERING_OPS: readonly FilterOp[] = ['<', '<=', '>', '>='];
const LIST_OPS: readonly FilterOp[] = ['in', 'not_in'];
const NULL_OPS: readonly FilterOp[] = ['is_null', 'is_not_null'];

/** The Python's ISO-8601 rule (column_types.ISO_TIMESTAMP). */
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
/** What Python's float() reads from text (finite numbers only: nan and inf are not filter values). */
const NUMBER_TEXT = /^[+-]?(\d+(_?\d+)*\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$/;
const BOOLEAN_WORDS = ['true', 'false', 'yes', 'no'];

/** Why a value does not coerce to a column type, or undefined when it does (mirrors column_types.coerce_value). */
export function filterValueProblem(value: unknown, type: ColumnType): string | undefined {
  const text = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? String(value) : undefined;
  if (text === undefined) return 'not a single value';
  switch (type) {
    case 'numeric':
      if (typeof value === 'boolean') return 'a boolean is not a number';
      if (typeof value === 'number') return Number.isFinite(value) ? undefined : 'not a finite number';
      return NUMBER_TEXT.test(text.trim()) ? undefined : 'not a number';
    case 'timestamp': {
      if (typeof value !== 'string' || !ISO_TIMESTAMP.test(value.trim())) return 'not an ISO-8601 date or date-time';
      return Number.isNaN(Date.parse(value.trim().replace(' ', 'T'))) ? 'not a valid date' : undefined;
    }
    case 'boolean':
      if (typeof value === 'boolean') return undefined;
      return BOOLEAN_WORDS.includes(text.trim().toLowerCase()) ? undefined : 'not a boolean (true/false/yes/no)';
    default:
      return undefined;
  }
}

function unknownColumn(loc: Loc, name: unknown, profile: DatasetProfile): ValidationProblem {
  const known = columnNames(profile);
  const shown = known.length > 20 ? `${known.slice(0, 20).join(', ')}, …` : known.join(', ');
  return { loc, msg: `no column named ${JSON.stringify(name)} in the dataset; columns: ${shown}`, type: 'value_error.unknown_column' };
}

/** Problems of one filter (its loc is e.g. `['body','filter']` or `['body','filter',2]`). */
export function validateFilter(profile: DatasetProfile, filter: RowFilter, loc: Loc): ValidationProblem[] {
  const column = findColumn(profile, filter.col);
  if (!column) return [unknownColumn([...loc, 'col'], filter.col, profile)];
  const op: FilterOp = filter.op ?? '==';
  if (ORDERING_OPS.includes(op) && column.type !== 'numeric' && column.type !== 'timestamp') {
    return [{ loc: [...loc, 'op'], msg: `op ${op} needs a numeric or timestamp column; ${column.name} is ${column.type}`, type: 'value_error.filter_op' }];
  }
  const valueLoc = [...loc, 'value'];
  if (NULL_OPS.includes(op)) {
    return filter.value === undefined || filter.value === null ? [] : [{ loc: valueLoc, msg: `op ${op} takes no value`, type: 'value_error.filter_value' }];
  }
  if (LIST_OPS.includes(op)) {
    if (!Array.isArray(filter.value) || filter.value.length === 0) {
      return [{ loc: valueLoc, msg: `op ${op} needs a non-empty list of values`, type: 'value_error.filter_value' }];
    }
    const problems: ValidationProblem[] = [];
    filter.value.forEach((item, i) => {
      const why = filterValueProblem(item, column.type);
      if (why)
        problems.push({
          loc: [...valueLoc, i],
          msg: `${JSON.stringify(item)} does not fit column ${column.name} (${column.type}): ${why}`,
          type: 'value_error.filter_value',
        });
    });
    return problems;
  }
  if (filter.value === undefined || filter.value === null) {
    return [{ loc: valueLoc, msg: `op ${op} needs a value`, type: 'value_error.filter_value' }];
  }
  const why = filterValueProblem(filter.value, column.type);
  return why
    ? [{ loc: valueLoc, msg: `${JSON.stringify(filter.value)} does not fit column ${column.name} (${column.type}): ${why}`, type: 'value_error.filter_value' }]
    : [];
}

/** A request's filter(s): one object (loc `['body','filter']`) or a list (loc `['body','filter',i]`). */
export function validateFilters(
  profile: DatasetProfile,
  filter: RowFilter | RowFilter[] | null | undefined,
  loc: Loc = ['body', 'filter'],
): ValidationProblem[] {
  if (!filter) return [];
  if (Array.isArray(filter)) return filter.flatMap((one, i) => validateFilter(profile, one, [...loc, i]));
  return validateFilter(profile, filter, loc);
}

function labelProblems(
  profile: DatasetProfile,
  name: string,
  taskKind: TaskKind | undefined,
  loc: Loc,
): { column?: ColumnProfile; problems: ValidationProblem[] } {
  const column = findColumn(profile, name);
  if (!column) return { problems: [unknownColumn(loc, name, profile)] };
  const kind = taskKind ?? inferTaskKind(column);
  if (!kind)
    return {
      column,
      problems: [{ loc, msg: `${name} is ${column.type}: only numeric, category or boolean fields can be predicted`, type: 'value_error.label_kind' }],
    };
  const check = labelCheck(column, kind);
  return { column, problems: check.ok ? [] : [{ loc, msg: check.reason, type: 'value_error.label_kind' }] };
}

/** Families and metrics of a request, each error as a problem at its list position. */
function catalogueProblems(names: readonly string[] | null, loc: Loc, check: (name: string) => void, type: string): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  (names ?? []).forEach((name, i) => {
    try {
      check(name);
    } catch (err) {
      if (!(err instanceof UpletError)) throw err;
      problems.push({ loc: [...loc, i], msg: err.message, type });
    }
  });
  return problems;
}

/** `POST /v1/trainer/run` (after Joi) against its dataset's profile. */
export function validateTrainerRun(profile: DatasetProfile, request: TrainerRunRequest): ValidationProblem[] {
  const { label_column: label, task_kind: taskKind } = request.task;
  const problems = labelProblems(profile, label, taskKind, ['body', 'task', 'label_column']).problems;
  problems.push(...validateFilters(profile, request.filter));
  problems.push(...catalogueProblems(request.model_types, ['body', 'model_types'], resolveFamily, 'value_error.unknown_family'));
  problems.push(...catalogueProblems(request.metrics, ['body', 'metrics'], (name) => checkMetric(name, taskKind), 'value_error.unknown_metric'));
  if (profile.columns.length < 2 && findColumn(profile, label)) {
    problems.push({
      loc: ['body', 'task', 'label_column'],
      msg: 'the dataset has no column besides the label to learn from',
      type: 'value_error.no_input_fields',
    });
  }
  return problems;
}

/** `POST /api/v1/models/train/new` (after Joi) against its dataset's profile; task kinds inferred per field. */
export function validateAkkioTrain(profile: DatasetProfile, request: AkkioTrainRequest): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  request.predict_fields.forEach((field, i) => problems.push(...labelProblems(profile, field, undefined, ['body', 'predict_fields', i]).problems));
  request.ignore_fields.forEach((field, i) => {
    const loc = ['body', 'ignore_fields', i];
    if (!findColumn(profile, field)) problems.push(unknownColumn(loc, field, profile));
    else if (request.predict_fields.includes(field))
      problems.push({ loc, msg: `${field} is a predict field and cannot be ignored`, type: 'value_error.label_ignored' });
  });
  const inputs = inputFields(profile, request.predict_fields, request.ignore_fields);
  if (problems.length === 0 && inputs.length === 0) {
    problems.push({
      loc: ['body', 'ignore_fields'],
      msg: 'no field is left to learn from once predict and ignored fields are removed',
      type: 'value_error.no_input_fields',
    });
  }
  return problems;
}

/** Columns a model learns from: all but the labels and the ignored ones (text columns included: the Python drops them itself). */
export function inputFields(profile: DatasetProfile, labels: readonly string[], ignored: readonly string[]): string[] {
  return columnNames(profile).filter((name) => !labels.includes(name) && !ignored.includes(name));
}
