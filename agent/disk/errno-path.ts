/**
 * Names the image in an I/O error that came from a descriptor.
 *
 * Node's errors of `fh.read`, `fh.write` and friends carry no path (the
 * descriptor has none), and errors rebuilt from a hashing thread carry only
 * their code, so a failing disk reached the user as "read failed,
 * input/output error (EIO)" without saying which image. The handler that
 * opened the image knows its path; this puts it on the error, where
 * rpc/to-status.ts prints it.
 */

/** `err` with `path` set when it is an errno error (a string `code` like EIO) that names no file yet; anything else as it is. */
export function withErrnoPath(err: unknown, path: string): unknown {
  if (!(err instanceof Error)) return err;
  const e = err as NodeJS.ErrnoException;
  if (typeof e.code !== 'string' || !/^E[A-Z0-9]+$/.test(e.code) || e.path !== undefined) return err;
  e.path = path;
  return err;
}
