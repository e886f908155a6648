import type { DatasetProfile } from '../../shared/contracts/training-contract';

/** A profile as the Python `profile` command writes it (shape copied from its output). */
export const irisLikeProfile: DatasetProfile = {
  row_count: 150,
  delimiter: ',',
  columns: [
    { name: 'sepal_length', type: 'numeric', missing: 0, distinct: 35, min: 4.3, max: 7.9, mean: 5.84, std: 0.83 },
    { name: 'petals', type: 'numeric', missing: 15, distinct: 2, min: 0, max: 1, mean: 0.4, std: 0.49 },
    {
      name: 'species',
      type: 'category',
      missing: 0,
      distinct: 3,
      top_values: [
        { value: 'setosa', count: 50 },
        { value: 'versicolor', count: 50 },
        { value: 'virginica', count: 50 },
      ],
    },
    {
      name: 'rare',
      type: 'boolean',
      missing: 0,
      distinct: 2,
      top_values: [
        { value: 'false', count: 140 },
        { value: 'true', count: 10 },
      ],
    },
    { name: 'seen_at', type: 'timestamp', missing: 0, distinct: 150, min: '2020-01-01T00:00:00Z', max: '2020-06-01T00:00:00Z' },
    { name: 'notes', type: 'text', missing: 30, distinct: 120 },
    { name: 'constant', type: 'category', missing: 0, distinct: 1, top_values: [{ value: 'x', count: 150 }] },
  ],
};
