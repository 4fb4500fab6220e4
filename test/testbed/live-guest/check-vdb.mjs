#!/usr/bin/env node
// check-vdb.mjs IMAGE [--bs 65536] [--blocks N] [--allow-torn]
// Checks that an image of the live guest's vdb is one point in time of its writer (see /init).
// IMAGE is raw, or qcow2 (read through `qemu-img convert -U` into a temporary raw file).
// Block k of pass n (BS bytes, 512-byte sectors, S = BS/512):
//   sector 0       = printf '%-511s\n' "SEQ n BLK k"
//   sectors 1..S-2 = the 16-byte unit printf '%-15s\n' "FILL n", repeated 32 times per sector
//   sector S-1     = printf '%-511s\n' "END n BLK k"
//   an all-zero block = seq 0 (never written).
// Invariant (strict): every block is whole (all its sectors carry the same seq, header/trailer BLK = k) and
//   the seqs read S[0..N-1] = n,...,n, n-1,...,n-1 for some n >= 1 and boundary j in 1..N
//   (S[k] = n for k < j, S[k] = n-1 for k >= j; n-1 = 0 means still zero). I.e. non-increasing, max-min <= 1.
// --allow-torn: additionally accept ONE torn block at k = j (each sector valid, seq n or n-1): the single write
//   in flight at the cut (the writer has at most one outstanding write).
// Prints one JSON line {ok, pass, boundary, counts, problems, ...}; exit 0 = consistent, 1 = not, 2 = usage/IO error.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
let img = null,
  BS = 65536,
  NB = null,
  allowTorn = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--bs') BS = +args[++i];
  else if (args[i] === '--blocks') NB = +args[++i];
  else if (args[i] === '--allow-torn') allowTorn = true;
  else if (img === null && !args[i].startsWith('--')) img = args[i];
  else img = undefined;
}
if (!img || !(BS >= 1024 && BS % 512 === 0) || (NB !== null && !(NB >= 1 && Number.isInteger(NB)))) {
  console.error('usage: check-vdb.mjs IMAGE [--bs 65536] [--blocks N] [--allow-torn]');
  process.exit(2);
}

function isQcow2(path) {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.equals(Buffer.from([0x51, 0x46, 0x49, 0xfb]));
  } finally {
    closeSync(fd);
  }
}

let raw = img,
  tmp = null;
try {
  if (isQcow2(img)) {
    tmp = mkdtempSync(join(tmpdir(), 'check-vdb-'));
    raw = join(tmp, 'vdb.raw');
    execFileSync('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'raw', img, raw], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const res = check(raw);
  res.image = img;
  console.log(JSON.stringify(res));
  process.exitCode = res.ok ? 0 : 1;
} catch (err) {
  console.error(`check-vdb.mjs: ${err.message}`);
  process.exitCode = 2;
} finally {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}

function check(path) {
  const SEC = 512,
    NS = BS / SEC;
  const size = statSync(path).size;
  const N = NB ?? Math.floor(size / BS);
  const pad = (s) => s.padEnd(511, ' ') + '\n';
  const fillCache = new Map();
  const fillSector = (n) => {
    let b = fillCache.get(n);
    if (!b) {
      b = Buffer.from((('FILL ' + n).padEnd(15, ' ') + '\n').repeat(SEC / 16));
      fillCache.set(n, b);
    }
    return b;
  };
  const isZero = (b) => {
    for (let i = 0; i < b.length; i++) if (b[i]) return false;
    return true;
  };
  // seq carried by sector s of block k; 0 = zero sector; -1 = garbage
  const sectorSeq = (sec, k, s) => {
    if (isZero(sec)) return 0;
    const t = sec.toString('latin1');
    if (s === 0 || s === NS - 1) {
      const m = /^(SEQ|END) (\d+) BLK (\d+) *\n$/.exec(t);
      if (!m || m[1] !== (s === 0 ? 'SEQ' : 'END') || +m[3] !== k || t !== pad(`${m[1]} ${m[2]} BLK ${m[3]}`)) return -1;
      return +m[2];
    }
    const m = /^FILL (\d+) *\n/.exec(t.slice(0, 16));
    if (!m) return -1;
    return sec.equals(fillSector(+m[1])) ? +m[1] : -1;
  };

  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(BS);
  const seq = new Array(N),
    bad = [],
    torn = [];
  try {
    for (let k = 0; k < N; k++) {
      const got = readSync(fd, buf, 0, BS, k * BS);
      if (got !== BS) {
        bad.push({ k, why: 'short read' });
        seq[k] = -1;
        continue;
      }
      const vals = new Set();
      let garbage = false;
      for (let s = 0; s < NS; s++) {
        const v = sectorSeq(buf.subarray(s * SEC, (s + 1) * SEC), k, s);
        if (v < 0) {
          garbage = true;
          break;
        }
        vals.add(v);
      }
      if (garbage) {
        bad.push({
          k,
          why: 'garbage sector',
          head: buf
            .subarray(0, 40)
            .toString('latin1')
            .replace(/[^\x20-\x7e]/g, '.'),
        });
        seq[k] = -1;
        continue;
      }
      const v = [...vals].sort((a, b) => b - a);
      if (v.length === 1) seq[k] = v[0];
      else if (v.length === 2 && v[0] - v[1] === 1) {
        torn.push({ k, seqs: v });
        seq[k] = -2;
      } else {
        bad.push({ k, why: 'mixed seqs ' + v.join(',') });
        seq[k] = -1;
      }
    }
  } finally {
    closeSync(fd);
  }
  const whole = seq.filter((x) => x >= 0);
  const n = whole.length ? Math.max(...whole) : 0;
  const counts = {};
  for (const x of seq) counts[x] = (counts[x] || 0) + 1;
  // boundary j = first block not at seq n
  let j = seq.findIndex((x) => x !== n);
  if (j < 0) j = N;
  const problems = [];
  if (bad.length) problems.push(`${bad.length} garbage/mixed block(s), first at ${bad[0].k} (${bad[0].why})`);
  if (n === 0 && !bad.length && !torn.length) problems.push('no block written yet (all zero)');
  let k0 = j;
  if (torn.length) {
    if (!allowTorn) problems.push(`${torn.length} torn block(s), first at ${torn[0].k} seqs ${torn[0].seqs}`);
    else if (torn.length > 1 || torn[0].k !== j || torn[0].seqs[0] !== n) problems.push(`torn block(s) not at the boundary: ${JSON.stringify(torn.slice(0, 3))}`);
    else k0 = j + 1;
  }
  for (let k = k0; k < N; k++) {
    if (seq[k] !== n - 1 && seq[k] >= 0) {
      problems.push(`block ${k} has seq ${seq[k]}, expected ${n - 1} after boundary ${j} (out of order)`);
      break;
    }
  }
  return { ok: problems.length === 0, blocks: N, bs: BS, pass: n, boundary: j, counts, torn: torn.slice(0, 5), bad: bad.slice(0, 5), problems };
}
