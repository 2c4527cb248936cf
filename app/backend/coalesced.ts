// Shared runs of an async job for callers that each need a run that starts
// after their call (a read after a vote, an invalidation after a commit).

/**
 * Runs `fn` for every caller, but shares runs: a call joins the next run that
 * STARTS after the call (never one already in flight, which may have read the
 * cache before a vote the caller saw acknowledged). At most one run is in
 * flight and one queued, however many readers poll at once.
 */
export function coalesced<T>(fn: () => Promise<T>): () => Promise<T> {
  let inflight: Promise<T> | undefined;
  let queued: Promise<T> | undefined;
  const call = (): Promise<T> => {
    if (!inflight) {
      inflight = fn().finally(() => {
        inflight = undefined;
      });
      return inflight;
    }
    queued ??= inflight
      .catch(() => {})
      .then(() => {
        queued = undefined;
        return call();
      });
    return queued;
  };
  return call;
}
