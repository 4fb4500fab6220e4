/**
 * The Debian package `kvmctl hosts setup` installs, read on this machine
 * before anything is sent: its name, version and architecture decide whether
 * a host needs it at all (a second setup run sends nothing).
 */
import { execFile } from 'node:child_process';
import { invalidArgument } from '../../../shared/errors.js';

/** A kvmclone .deb and what its control file says. */
export interface PackageFile {
  readonly path: string;
  readonly version: string;
  readonly architecture: string;
}

/** Debian version syntax (policy 5.6.12), as far as a name on a command line needs. */
const DEBIAN_VERSION = /^(?:[0-9]+:)?[0-9][A-Za-z0-9.+~-]*$/;

/** Parses `dpkg-deb --field` output for the fields setup needs; throws on anything but a kvmclone package. */
export function parsePackageFields(path: string, text: string): PackageFile {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) fields.set(m[1].toLowerCase(), m[2].trim());
  }
  const name = fields.get('package');
  if (name !== 'kvmclone') throw invalidArgument(`${path} is not the kvmclone package (Package: ${name ?? 'none'})`);
  const version = fields.get('version') ?? '';
  if (!DEBIAN_VERSION.test(version)) throw invalidArgument(`${path}: unusable Version '${version}'`);
  const architecture = fields.get('architecture') ?? '';
  if (!/^[a-z0-9-]+$/.test(architecture)) throw invalidArgument(`${path}: unusable Architecture '${architecture}'`);
  return { path, version, architecture };
}

/** Reads the package's control fields with this machine's dpkg-deb. */
export async function readPackageFile(path: string, signal?: AbortSignal): Promise<PackageFile> {
  const text = await new Promise<string>((resolve, reject) => {
    execFile('dpkg-deb', ['--field', path, 'Package', 'Version', 'Architecture'], { signal, encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      if (err === null) return resolve(stdout);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return reject(invalidArgument(`reading ${path} needs dpkg-deb on this machine (Debian/Ubuntu: package dpkg)`));
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- an ExecFileException is an Error; its Omit<> type hides that from the rule
      if (err.name === 'AbortError') return reject(err);
      reject(invalidArgument(`${path} is not a readable Debian package: ${stderr.trim() || err.message}`));
    });
  });
  return parsePackageFields(path, text);
}
