import {
  REGISTRY_MODEL_TYPES,
  type DatasetProfile,
  type Ontology,
  type OntologyFieldType,
  type RegistryModelType,
  type TaskKind,
} from '../../shared/contracts/training-contract';
import { UnprocessableError } from '../../shared/errors/uplet-error';
import { classShares, findColumn, missingFraction } from './dataset-profile';

/**
 * The registry's recommend (seed 003): a 0–100 score per model type from the ontology and,
 * when a profiled dataset is at hand, its rows, class balance and missing values. The rules
 * are fixed points added to a base score, so the answer is deterministic and each point is a
 * sentence of the reasoning:
 *
 * | fact | decision_tree | random_forest | regression | neural_network |
 * |---|---|---|---|---|
 * | base | 60 | 70 | 55 | 45 |
 * | numeric target (regression task) | | | +15 | |
 * | category target with more than 10 classes | | | −10 | |
 * | all features numeric | | | +10 | +5 |
 * | more than half the features categorical | +5 | +5 | −10 | |
 * | at most 5 features | +10 | | | |
 * | more than 50 features | −10 | +5 | | +10 |
 * | fewer than 500 rows | +10 | +5 | +5 | −25 |
 * | at least 10,000 rows | −5 | +5 | | +20 |
 * | minority class < 20 % of the majority | −5 | +10 | | −5 |
 * | more than 10 % of feature cells missing | +5 | +5 | −10 | −10 |
 *
 * Scores are clamped to 0–100; ties go to the earlier type in seed 003's order.
 */

const BASE_SCORES: Readonly<Record<RegistryModelType, number>> = { decision_tree: 60, random_forest: 70, regression: 55, neural_network: 45 };

export interface OntologyAnalysis {
  n_fields: number;
  n_features: number;
  feature_types: Record<OntologyFieldType, number>;
  target: { name: string; type: OntologyFieldType };
  task_kind: TaskKind;
  id_fields: string[];
  ignored_fields: string[];
}

export interface DataAnalysis {
  profiled: boolean;
  row_count: number | null;
  missing_fraction: number | null;
  n_classes: number | null;
  /** Smallest class count over the largest (1 = balanced), classification only. */
  class_balance: number | null;
}

export interface Recommendation {
  type: RegistryModelType;
  score: number;
  reasoning: string;
  all_scores: Record<RegistryModelType, number>;
  ontology_analysis: OntologyAnalysis;
  data_analysis: DataAnalysis;
}

interface Adjustment {
  type: RegistryModelType;
  points: number;
  because: string;
}

export function analyseOntology(ontology: Ontology): OntologyAnalysis {
  const targets = ontology.fields.filter((field) => field.role === 'target');
  const target = targets[0];
  if (targets.length !== 1 || !target)
    throw new UnprocessableError(`an ontology needs exactly one target field (found ${targets.length})`, { code: 'ONTOLOGY_TARGET' });
  const features = ontology.fields.filter((field) => field.role === 'feature');
  const featureTypes: Record<OntologyFieldType, number> = { numeric: 0, category: 0, boolean: 0, text: 0, timestamp: 0 };
  for (const field of features) featureTypes[field.type] += 1;
  return {
    n_fields: ontology.fields.length,
    n_features: features.length,
    feature_types: featureTypes,
    target: { name: target.name, type: target.type },
    task_kind: target.type === 'numeric' ? 'regression' : 'classification',
    id_fields: ontology.fields.filter((field) => field.role === 'id').map((field) => field.name),
    ignored_fields: ontology.fields.filter((field) => field.role === 'ignore').map((field) => field.name),
  };
}

export function analyseData(ontology: Ontology, profile: DatasetProfile | null): DataAnalysis {
  if (!profile) return { profiled: false, row_count: null, missing_fraction: null, n_classes: null, class_balance: null };
  const targetName = ontology.fields.find((field) => field.role === 'target')?.name;
  const target = targetName === undefined ? undefined : findColumn(profile, targetName);
  const features = ontology.fields.filter((field) => field.role === 'feature' && findColumn(profile, field.name)).map((field) => field.name);
  const shares = target ? classShares(target) : undefined;
  const largest = shares?.[0];
  const smallest = shares?.[shares.length - 1];
  return {
    profiled: true,
    row_count: profile.row_count,
    missing_fraction: missingFraction(profile, features),
    n_classes: shares ? shares.length : null,
    class_balance: largest && smallest !== undefined ? smallest / largest : null,
  };
}

function adjustments(o: OntologyAnalysis, d: DataAnalysis, ontology: Ontology): Adjustment[] {
  const out: Adjustment[] = [];
  const add = (points: Partial<Record<RegistryModelType, number>>, because: string) => {
    for (const type of REGISTRY_MODEL_TYPES) {
      const p = points[type];
      if (p) out.push({ type, points: p, because });
    }
  };
  const categorical = o.feature_types.category + o.feature_types.boolean;
  if (o.task_kind === 'regression') add({ regression: 15 }, `the target ${o.target.name} is numeric (a regression task)`);
  const targetChoices = ontology.fields.find((field) => field.role === 'target')?.choices?.length ?? d.n_classes ?? 0;
  if (o.task_kind === 'classification' && targetChoices > 10) add({ regression: -10 }, `the target has ${targetChoices} classes`);
  if (o.n_features > 0 && o.feature_types.numeric === o.n_features) add({ regression: 10, neural_network: 5 }, `all ${o.n_features} features are numeric`);
  if (categorical * 2 > o.n_features)
    add({ decision_tree: 5, random_forest: 5, regression: -10 }, `${categorical} of ${o.n_features} features are categorical`);
  if (o.n_features <= 5) add({ decision_tree: 10 }, `only ${o.n_features} features (a small tree stays readable)`);
  if (o.n_features > 50) add({ decision_tree: -10, random_forest: 5, neural_network: 10 }, `${o.n_features} features`);
  if (d.row_count !== null && d.row_count < 500) add({ decision_tree: 10, random_forest: 5, regression: 5, neural_network: -25 }, `only ${d.row_count} rows`);
  if (d.row_count !== null && d.row_count >= 10_000) add({ decision_tree: -5, random_forest: 5, neural_network: 20 }, `${d.row_count} rows`);
  if (d.class_balance !== null && d.class_balance < 0.2)
    add(
      { decision_tree: -5, random_forest: 10, neural_network: -5 },
      `imbalanced classes (the smallest is ${(d.class_balance * 100).toFixed(0)} % of the largest)`,
    );
  if (d.missing_fraction !== null && d.missing_fraction > 0.1)
    add({ decision_tree: 5, random_forest: 5, regression: -10, neural_network: -10 }, `${(d.missing_fraction * 100).toFixed(0)} % of feature values missing`);
  return out;
}

/** The recommendation for an ontology and, optionally, a profile of its data. */
export function recommendModelType(ontology: Ontology, profile: DatasetProfile | null = null): Recommendation {
  const ontologyAnalysis = analyseOntology(ontology);
  const dataAnalysis = analyseData(ontology, profile);
  const moves = adjustments(ontologyAnalysis, dataAnalysis, ontology);
  const scores = { ...BASE_SCORES };
  for (const move of moves) scores[move.type] += move.points;
  for (const type of REGISTRY_MODEL_TYPES) scores[type] = Math.max(0, Math.min(100, scores[type]));
  const best = REGISTRY_MODEL_TYPES.reduce((a, b) => (scores[b] > scores[a] ? b : a));
  const reasons = moves.filter((move) => move.type === best).map((move) => `${move.because} (${move.points > 0 ? '+' : ''}${move.points})`);
  const runnerUp = REGISTRY_MODEL_TYPES.filter((type) => type !== best).reduce((a, b) => (scores[b] > scores[a] ? b : a));
  const reasoning = [
    `${best} scores ${scores[best]}/100 (base ${BASE_SCORES[best]}${reasons.length ? `; ${reasons.join('; ')}` : ''}).`,
    `Next best: ${runnerUp} at ${scores[runnerUp]}.`,
    dataAnalysis.profiled ? '' : 'No dataset profile yet: scored from the ontology alone.',
  ]
    .filter(Boolean)
    .join(' ');
  return { type: best, score: scores[best], reasoning, all_scores: scores, ontology_analysis: ontologyAnalysis, data_analysis: dataAnalysis };
}
