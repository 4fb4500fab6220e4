/**
 * The build's version and API identity, read once from package.json so the
 * agent's Info answer and `kvmctl --version` never disagree with the package.
 */
import { readFileSync } from 'node:fs';

function findPackageJson(): string {
  let dir = new URL('.', import.meta.url);
  for (let i = 0; i < 6; i += 1) {
    const candidate = new URL('package.json', dir);
    try {
      const text = readFileSync(candidate, 'utf8');
      if ((JSON.parse(text) as { name?: string }).name === 'kvmclone') return text;
    } catch {
      // not here; look one level up
    }
    dir = new URL('..', dir);
  }
  throw new Error('kvmclone package.json not found above ' + import.meta.url);
}

/** Semantic version of this build. */
export const KVMCLONE_VERSION: string = (JSON.parse(findPackageJson()) as { version: string }).version;
