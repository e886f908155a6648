import type { DatasetProfile, Ontology } from '../../shared/contracts/training-contract';
import { recommendModelType } from '../../orchestrator/training/recommend';

const smallNumeric: Ontology = {
  fields: [
    { name: 'id', type: 'category', role: 'id' },
    { name: 'area', type: 'numeric', role: 'feature' },
    { name: 'rooms', type: 'numeric', role: 'feature' },
    { name: 'age', type: 'numeric', role: 'feature' },
    { name: 'price', type: 'numeric', role: 'target' },
  ],
};
const smallProfile: DatasetProfile = {
  row_count: 200,
  delimiter: ',',
  columns: ['area', 'rooms', 'age', 'price'].map((name) => ({ name, type: 'numeric', missing: 0, distinct: 50, min: 0, max: 1, mean: 0.5, std: 0.2 })),
};

const wideCategorical: Ontology = {
  fields: [
    ...Array.from({ length: 60 }, (_, i) => ({ name: `c${i}`, type: i % 3 === 0 ? ('numeric' as const) : ('category' as const), role: 'feature' as const })),
    { name: 'churned', type: 'boolean', role: 'target' },
  ],
};
const bigImbalancedProfile: DatasetProfile = {
  row_count: 50_000,
  delimiter: ',',
  columns: [
    {
      name: 'churned',
      type: 'boolean',
      missing: 0,
      distinct: 2,
      top_values: [
        { value: 'false', count: 48_000 },
        { value: 'true', count: 2_000 },
      ],
    },
  ],
};

describe('recommend', () => {
  test('small numeric data with a numeric target: regression', () => {
    const r = recommendModelType(smallNumeric, smallProfile);
    expect(r.all_scores).toEqual({ decision_tree: 80, random_forest: 75, regression: 85, neural_network: 25 });
    expect(r.type).toBe('regression');
    expect(r.score).toBe(85);
    expect(r.reasoning).toBe(
      'regression scores 85/100 (base 55; the target price is numeric (a regression task) (+15); all 3 features are numeric (+10); only 200 rows (+5)). Next best: decision_tree at 80.',
    );
    expect(r.ontology_analysis).toMatchObject({ n_features: 3, task_kind: 'regression', id_fields: ['id'], target: { name: 'price', type: 'numeric' } });
    expect(r.data_analysis).toEqual({ profiled: true, row_count: 200, missing_fraction: 0, n_classes: null, class_balance: null });
  });

  test('wide categorical, large and imbalanced: random forest', () => {
    const r = recommendModelType(wideCategorical, bigImbalancedProfile);
    expect(r.type).toBe('random_forest');
    expect(r.all_scores).toEqual({ decision_tree: 45, random_forest: 95, regression: 45, neural_network: 70 });
    expect(r.reasoning).toContain('imbalanced classes (the smallest is 4 % of the largest) (+10)');
    expect(r.data_analysis.class_balance).toBeCloseTo(2000 / 48000, 12);
  });

  test('without a profile: from the ontology alone, and said so', () => {
    const r = recommendModelType(smallNumeric);
    expect(r.data_analysis.profiled).toBe(false);
    expect(r.reasoning).toContain('No dataset profile yet');
    expect(r.type).toBe('regression');
  });

  test('an ontology without a target is refused', () => {
    expect(() => recommendModelType({ fields: [{ name: 'a', type: 'numeric', role: 'feature' }] })).toThrow(/exactly one target/);
  });
});
