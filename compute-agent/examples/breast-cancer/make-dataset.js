#!/usr/bin/env node
// Splits the Breast Cancer Wisconsin (Diagnostic) data into the data items of the
// shipped demo problem, deterministically (fixed seed): train items held by three
// providers, a held-out test set (the problem's test_dataset), and held-out items
// to request predictions on. Run: node make-dataset.js (rewrites data/).
'use strict';
const fs = require('fs');
const path = require('path');

const FEATURES = [
  'mean_radius', 'mean_texture', 'mean_perimeter', 'mean_area', 'mean_smoothness', 'mean_compactness', 'mean_concavity',
  'mean_concave_points', 'mean_symmetry', 'mean_fractal_dimension', 'radius_error', 'texture_error', 'perimeter_error',
  'area_error', 'smoothness_error', 'compactness_error', 'concavity_error', 'concave_points_error', 'symmetry_error',
  'fractal_dimension_error', 'worst_radius', 'worst_texture', 'worst_perimeter', 'worst_area', 'worst_smoothness',
  'worst_compactness', 'worst_concavity', 'worst_concave_points', 'worst_symmetry', 'worst_fractal_dimension',
];

function mulberry32(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const here = __dirname;
const lines = fs.readFileSync(path.join(here, 'source', 'breast_cancer.csv'), 'utf8').trim().split('\n');
const rows = lines.slice(1).map((l) => l.split(','));
if (rows.length !== 569 || rows.some((r) => r.length !== 31)) throw new Error('unexpected source shape');

// Fisher-Yates with a fixed seed.
const random = mulberry32(20170301);
for (let i = rows.length - 1; i > 0; i--) {
  const j = Math.floor(random() * (i + 1));
  [rows[i], rows[j]] = [rows[j], rows[i]];
}

const outDir = path.join(here, 'data');
fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(outDir);
const items = [];
let next = 0;
function item(uuid, role, provider, count) {
  const slice = rows.slice(next, next + count);
  next += count;
  fs.writeFileSync(path.join(outDir, `${uuid}.csv`), `${[...FEATURES, 'label'].join(',')}\n${slice.map((r) => r.join(',')).join('\n')}\n`);
  items.push({ uuid, role, provider, rows: slice.length, file: `data/${uuid}.csv` });
}

for (let i = 0; i < 3; i++) item(`bc-test-${i}`, 'test', 'hospital-a', 40);
for (let i = 0; i < 2; i++) item(`bc-predict-${i}`, 'predict', 'hospital-b', 30);
const providers = ['hospital-a', 'hospital-b', 'hospital-c'];
for (let i = 0; next < rows.length; i++) item(`bc-train-${String(i).padStart(2, '0')}`, 'train', providers[i % 3], Math.min(20, rows.length - next));

fs.writeFileSync(path.join(here, 'manifest.json'), `${JSON.stringify({
  source: 'Breast Cancer Wisconsin (Diagnostic), as shipped in Debian python3-sklearn 1.2.1 (sklearn/datasets/data/breast_cancer.csv)',
  label: 'label: 0 = malignant, 1 = benign', seed: 20170301, items,
}, null, 2)}\n`);
console.log(`${items.length} items: ${items.filter((i) => i.role === 'train').length} train, ${items.filter((i) => i.role === 'test').length} test, ${items.filter((i) => i.role === 'predict').length} predict`);
