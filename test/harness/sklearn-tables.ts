import { execFileSync } from 'node:child_process';

/**
 * scikit-learn's bundled tables written as CSV files by Debian's Python, the datasets of the
 * engine's tests and benchmarks (no network: they ship with scikit-learn).
 */

/** Breast cancer: 569 rows, 30 numeric features (spaces as underscores), a 0/1 `target`; the first `rows` only, the target column optional. */
export function breastCancerCsv(file: string, rows?: number, withTarget = true): void {
  execFileSync('/usr/bin/python3', [
    '-c',
    `
import csv, sys
from sklearn.datasets import load_breast_cancer
d = load_breast_cancer()
names = [n.replace(' ', '_') for n in d.feature_names]
n = int(sys.argv[2]) if sys.argv[2] != 'all' else len(d.target)
with open(sys.argv[1], 'w', newline='') as f:
    w = csv.writer(f)
    w.writerow(names + (['target'] if sys.argv[3] == '1' else []))
    for x, y in list(zip(d.data, d.target))[:n]:
        w.writerow([repr(float(v)) for v in x] + ([int(y)] if sys.argv[3] == '1' else []))
`,
    file,
    rows === undefined ? 'all' : String(rows),
    withTarget ? '1' : '0',
  ]);
}

/** Iris: four numeric measures and the species as a name (a category). */
export function irisCsv(file: string): void {
  execFileSync('/usr/bin/python3', [
    '-c',
    `
import csv, sys
from sklearn.datasets import load_iris
d = load_iris()
with open(sys.argv[1], 'w', newline='') as f:
    w = csv.writer(f)
    w.writerow(['sepal_length', 'sepal_width', 'petal_length', 'petal_width', 'species'])
    for x, y in zip(d.data, d.target):
        w.writerow([repr(float(v)) for v in x] + [d.target_names[y]])
`,
    file,
  ]);
}
