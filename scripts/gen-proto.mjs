#!/usr/bin/env node
// Generates the TypeScript types of proto/ into shared/generated/.
// With --check, generates into a temporary directory and fails when the
// committed types differ: stale generated types are a build error.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const protoDir = join(root, 'proto');
const committed = join(root, 'shared', 'generated');
const check = process.argv.includes('--check');

function protoFiles(dir) {
  return readdirSync(dir)
    .flatMap((name) => {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) return protoFiles(p);
      return name.endsWith('.proto') ? [relative(protoDir, p)] : [];
    })
    .sort();
}

function generate(outDir) {
  rmSync(outDir, { recursive: true, force: true });
  execFileSync(
    join(root, 'node_modules', '.bin', 'proto-loader-gen-types'),
    [
      '--longs=Number',
      '--enums=String',
      '--defaults',
      '--oneofs',
      '--includeComments',
      '--grpcLib=@grpc/grpc-js',
      '--importFileExtension=.js',
      '--includeDirs=proto',
      `--outDir=${outDir}`,
      ...protoFiles(protoDir),
    ],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

function listTree(dir) {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((p) => statSync(join(dir, p)).isFile())
    .sort();
}

if (!check) {
  // Generate aside, then swap: a failing generator leaves the committed types alone.
  const fresh = mkdtempSync(join(tmpdir(), 'kvmclone-proto-'));
  generate(fresh);
  rmSync(committed, { recursive: true, force: true });
  cpSync(fresh, committed, { recursive: true });
  rmSync(fresh, { recursive: true, force: true });
  console.log(`generated ${listTree(committed).length} files into shared/generated`);
} else {
  const tmp = mkdtempSync(join(tmpdir(), 'kvmclone-proto-'));
  try {
    generate(tmp);
    const want = listTree(tmp);
    const have = listTree(committed);
    const stale = [...new Set([...want, ...have])].filter(
      (f) => !want.includes(f) || !have.includes(f) || readFileSync(join(tmp, f), 'utf8') !== readFileSync(join(committed, f), 'utf8'),
    );
    if (stale.length > 0) {
      console.error(`shared/generated is stale (run npm run gen:proto): ${stale.join(', ')}`);
      process.exit(1);
    }
    console.log('shared/generated matches proto/');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
