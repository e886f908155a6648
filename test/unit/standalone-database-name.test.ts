import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { standaloneDatabaseName } from '../../standalone/local-infrastructure';

/**
 * Two standalone instances must not share a PostgreSQL database (issue 15, item 7):
 * its name comes from the data directory, the same across restarts of that directory.
 */
describe('the standalone database name', () => {
  let root: string;
  beforeAll(() => void (root = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-sa-name-'))));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test('differs between data directories, and is a short PostgreSQL identifier', () => {
    const a = path.join(root, 'a');
    const b = path.join(root, 'b');
    fs.mkdirSync(a);
    fs.mkdirSync(b);
    expect(standaloneDatabaseName(a)).toMatch(/^uplet_sa_[0-9a-f]{12}$/);
    expect(standaloneDatabaseName(a)).not.toBe(standaloneDatabaseName(b));
  });

  test('is the same however the directory is named: relative, trailing slash, through a symlink', () => {
    const dir = path.join(root, 'c');
    fs.mkdirSync(dir);
    fs.symlinkSync(dir, path.join(root, 'link'));
    const name = standaloneDatabaseName(dir);
    expect(standaloneDatabaseName(`${dir}/`)).toBe(name);
    expect(standaloneDatabaseName(path.join(root, 'link'))).toBe(name);
    expect(standaloneDatabaseName(path.relative(process.cwd(), dir))).toBe(name);
  });
});
