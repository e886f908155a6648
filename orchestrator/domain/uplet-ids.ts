import { v5 as uuidv5 } from 'uuid';

// Fixed namespace: generated ids are a pure function of what they name, so
// generating the same learnuplet twice (two replicas, a retry) inserts it once.
const NAMESPACE = '6f1c7c1e-6b53-4c8e-9a8f-2f0d4f3a9b11';

export function learnupletUuid(problem: string, algo: string, rank: number): string {
  return uuidv5(`learnuplet/${problem}/${algo}/${rank}`, NAMESPACE);
}

export function modelEndUuid(learnuplet: string): string {
  return uuidv5(`model/${learnuplet}`, NAMESPACE);
}

export function predupletUuid(requestId: string, data: string): string {
  return uuidv5(`preduplet/${requestId}/${data}`, NAMESPACE);
}

export function minibatchId(problem: string, index: number): string {
  return `${problem}/${index}`;
}

/** Position `pos` of a problem's train log (registration order of its train data). */
export function logId(problem: string, pos: number): string {
  return `${problem}#${pos}`;
}

/** The cursor document of a problem's train log and minibatches. */
export function trainCursor(problem: string): string {
  return `train/${problem}`;
}

export function membershipId(problem: string, data: string): string {
  return `${problem}/${data}`;
}

/**
 * The train log of a problem at a site: `<problem>` for the site `default` (the ids a one-site
 * install always had), `<problem>@<site>` for the others. Its positions are `<key>#<pos>`.
 */
export function logKey(problem: string, site: string): string {
  return site === 'default' ? problem : `${problem}@${site}`;
}

/** The j-th batch of a site's train log: `<problem>@<site>/<j>` (a minibatch's `site_batch`, unique). */
export function siteBatchId(problem: string, site: string, j: number): string {
  return `${problem}@${site}/${j}`;
}

/** The cursor of a site's train log (its end, and its first batch not yet placed at a rank). */
export function siteTrainCursor(problem: string, site: string): string {
  return trainCursor(logKey(problem, site));
}

/** The cursor of a problem's ranks (the next free minibatch index, a hint). */
export function rankCursor(problem: string): string {
  return `ranks/${problem}`;
}
