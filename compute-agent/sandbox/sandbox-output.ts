import fs from 'node:fs';
import path from 'node:path';
import { TaskStepFailed } from '../tasks/task-workspace';

/**
 * A file the sandbox wrote, checked before the agent reads, uploads or mounts it. The sandbox
 * (user nobody) may leave a symlink to any host path in its writable output directory, and the
 * agent, reading on the host, would follow it: a model "file" pointing at a host secret would be
 * uploaded as the model. Only a regular file whose directory is not a symlink is accepted; a
 * missing file keeps its ENOENT error, so callers say what was not written. Safe from races: the
 * sandbox has exited (or, warm, lost access to the directory) before its outputs are read.
 */
export async function sandboxOutputFile(file: string, step: string): Promise<string> {
  const [dir, stat] = await Promise.all([fs.promises.lstat(path.dirname(file)), fs.promises.lstat(file)]);
  if (dir.isSymbolicLink() || !dir.isDirectory() || !stat.isFile()) {
    const what = stat.isSymbolicLink() ? 'a symbolic link' : dir.isSymbolicLink() ? 'in a symlinked directory' : 'not a regular file';
    throw new TaskStepFailed(
      step,
      undefined,
      `${step}: the output ${path.basename(file)} is ${what}; only regular files written by the sandbox are read`,
      true,
    );
  }
  return file;
}
