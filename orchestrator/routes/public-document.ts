/** Documents go out without their `_id` (it is always equal to `uuid`). */
export function publicDocument<T extends { _id: string }>(doc: T): Omit<T, '_id'> {
  const { _id: _ignored, ...rest } = doc;
  return rest;
}
