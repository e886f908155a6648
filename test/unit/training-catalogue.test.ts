import type { ColumnProfile } from '../../shared/contracts/training-contract';
import { UnknownFamilyError, UnknownMetricError } from '../../shared/errors/training-errors';
import {
  canBeLabel,
  classCount,
  classShares,
  columnKind,
  findColumn,
  inferTaskKind,
  labelCheck,
  missingFraction,
} from '../../orchestrator/training/dataset-profile';
import { chooseFamilies, defaultFamilies, familyOfRegistryType, resolveFamily } from '../../orchestrator/training/families';
import { irisLikeProfile } from './training-fixtures';
import { canonicalMetric, checkMetric, higherIsBetter, knownMetrics, orient, resolveMetrics } from '../../orchestrator/training/metrics';

const column = (name: string) => findColumn(irisLikeProfile, name) as ColumnProfile;

describe('dataset profile', () => {
  test('lookup, kinds and class counts', () => {
    expect(columnKind(irisLikeProfile, 'seen_at')).toBe('timestamp');
    expect(columnKind(irisLikeProfile, 'nope')).toBeUndefined();
    expect(classCount(column('species'))).toBe(3);
    expect(classShares(column('rare'))).toEqual([140 / 150, 10 / 150]);
    expect(missingFraction(irisLikeProfile, ['sepal_length', 'petals'])).toBeCloseTo(15 / 300, 12);
  });

  test('which columns can be labels of which task kind', () => {
    expect(canBeLabel(column('sepal_length'), 'regression')).toBe(true);
    expect(canBeLabel(column('species'), 'regression')).toBe(false);
    expect(canBeLabel(column('species'), 'classification')).toBe(true);
    expect(canBeLabel(column('sepal_length'), 'classification')).toBe(true);
    expect(labelCheck(column('notes'), 'classification')).toEqual({
      ok: false,
      reason: 'a classification label must be category, boolean or numeric; notes is text',
    });
    expect(labelCheck(column('constant'), 'classification')).toEqual({ ok: false, reason: 'a classification label needs at least 2 classes; constant has 1' });
  });

  test('task kind of an Akkio predict field', () => {
    expect(inferTaskKind(column('species'))).toBe('classification');
    expect(inferTaskKind(column('petals'))).toBe('classification');
    expect(inferTaskKind(column('sepal_length'))).toBe('regression');
    expect(inferTaskKind(column('seen_at'))).toBeUndefined();
  });
});

describe('families', () => {
  test('ids, the registry alias, unknown ids listed', () => {
    expect(resolveFamily('xgboost')).toBe('xgboost');
    expect(resolveFamily('regression')).toBe('linear');
    expect(familyOfRegistryType('regression')).toBe('linear');
    expect(() => familyOfRegistryType('xgboost')).toThrow(UnknownFamilyError);
    for (const name of ['tabm', 'xrfm', 'tabicl', 'toString']) {
      try {
        resolveFamily(name);
        throw new Error('accepted');
      } catch (err) {
        expect(err).toBeInstanceOf(UnknownFamilyError);
        expect((err as UnknownFamilyError).code).toBe('UNKNOWN_FAMILY');
        expect((err as UnknownFamilyError).httpStatus).toBe(422);
        expect((err as UnknownFamilyError).message).toContain('decision_tree, random_forest, linear, neural_network, hist_gradient_boosting, xgboost');
      }
    }
  });

  test('default families follow the dataset shape', () => {
    expect(defaultFamilies({ rows: 178, features: 13, taskKind: 'classification', classCount: 3 })).toEqual(['decision_tree', 'random_forest', 'linear']);
    expect(defaultFamilies({ rows: 600, features: 13, taskKind: 'regression' })).toEqual(['decision_tree', 'random_forest', 'linear', 'neural_network']);
    expect(defaultFamilies({ rows: 600, features: 13, taskKind: 'classification', classCount: 20 })).toEqual(['decision_tree', 'random_forest', 'linear']);
    expect(defaultFamilies({ rows: 5000, features: 40, taskKind: 'classification', classCount: 2 })).toEqual([
      'decision_tree',
      'random_forest',
      'linear',
      'neural_network',
      'hist_gradient_boosting',
      'xgboost',
    ]);
    expect(chooseFamilies(['regression', 'linear', 'xgboost'], { rows: 10, features: 1, taskKind: 'regression' })).toEqual(['linear', 'xgboost']);
  });
});

describe('metrics', () => {
  test('directions, neg_ flips, aliases', () => {
    expect(higherIsBetter('auc')).toBe(true);
    expect(higherIsBetter('neg_auc')).toBe(false);
    expect(higherIsBetter('rmse')).toBe(false);
    expect(higherIsBetter('neg_class_error')).toBe(true);
    expect(canonicalMetric('roc_auc')).toBe('auc');
    expect(canonicalMetric('neg_roc_auc')).toBe('neg_auc');
    expect(orient('log_loss', 0.3)).toBe(-0.3);
    expect(orient('neg_log_loss', -0.3)).toBe(-0.3);
  });

  test('defaults, task kinds, the seed example, unknown names listed', () => {
    expect(resolveMetrics(null, 'classification')).toEqual(['accuracy']);
    expect(resolveMetrics([], 'regression')).toEqual(['rmse']);
    expect(resolveMetrics(['auc', 'neg_class_error'], 'classification')).toEqual(['auc', 'neg_class_error']);
    expect(() => resolveMetrics(['auc', 'roc_auc'], 'classification')).toThrow(/given twice/);
    expect(() => checkMetric('rmse', 'classification')).toThrow(/for regression, not classification/);
    expect(() => checkMetric('brier', 'classification')).toThrow(UnknownMetricError);
    expect(knownMetrics('regression')).toEqual(['rmse', 'mae', 'r2', 'neg_rmse', 'neg_mae', 'neg_r2']);
    expect(knownMetrics('classification')).toContain('neg_roc_auc');
  });
});
