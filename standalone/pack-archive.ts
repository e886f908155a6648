import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * Packs a directory into the .tar.gz layout the compute contract expects: its
 * files at the archive root (`run` first among them), owners stripped.
 */
export async function packArchive(sourceDir: string, outFile: string): Promise<void> {
  await execFileAsync('tar', ['-czf', outFile, '--owner=0', '--group=0', '--numeric-owner', '-C', sourceDir, '.'], { timeout: 60_000 });
}
