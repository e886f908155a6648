/**
 * A problem's train data are the data registered to it that are not in its
 * test_dataset, in registration order, cut into consecutive full minibatches.
 */
export interface RegisteredData {
  uuid: string;
  timestamp_upload: Date;
  upload_index: number;
}

export function registrationOrder(a: RegisteredData, b: RegisteredData): number {
  return a.timestamp_upload.getTime() - b.timestamp_upload.getTime() || a.upload_index - b.upload_index || (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0);
}

export interface MinibatchPlan {
  /** New full minibatches, each a list of data uuids, in order. */
  batches: string[][];
  /** Train data that do not fill a minibatch yet: they wait, visibly. */
  waiting: string[];
}

/**
 * Cuts the not-yet-batched train data into full minibatches. `alreadyBatched`
 * holds every data uuid that some minibatch already contains.
 */
export function planMinibatches(
  registered: readonly RegisteredData[],
  testDataset: readonly string[],
  alreadyBatched: ReadonlySet<string>,
  size: number,
): MinibatchPlan {
  const test = new Set(testDataset);
  const free = [...registered]
    .filter((d) => !test.has(d.uuid) && !alreadyBatched.has(d.uuid))
    .sort(registrationOrder)
    .map((d) => d.uuid);
  const full = Math.floor(free.length / size);
  const batches: string[][] = [];
  for (let i = 0; i < full; i++) batches.push(free.slice(i * size, (i + 1) * size));
  return { batches, waiting: free.slice(full * size) };
}
