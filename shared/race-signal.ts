/**
 * Waiting on work that cannot itself be cancelled (a native libvirt call, a
 * socket drain) while still answering an abort at once: shared by the
 * libvirt adapter and the NBD client.
 */

/** Rejects with the signal's reason when it aborts, without waiting for `work`; otherwise settles as `work` does. */
export function raceSignal<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
