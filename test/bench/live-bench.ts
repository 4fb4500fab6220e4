/**
 * `scripts/bench live`: a running VM with a qcow2 data disk of N GiB (10 by
 * default), half of it unique random data in 64 MiB runs (no repeated
 * pool), copied with `kvmctl clone --live`; then, each time after 1 % of
 * its 64 KiB blocks were written from the host through QEMU (as the guest
 * would write them, scattered, seeded):
 *   - `kvmctl sync --live` with the dirty bitmap (the default),
 *   - `kvmctl sync --live --cbt=off` (both guest views hashed),
 *   - the offline `kvmctl sync` of the same amount of change into a copy
 *     made by an offline clone (the VM shut off),
 * in one run on the testbed. Prints the table and writes the raw figures
 * to bench-results/live-<date>.json. Not a test: figures to compare.
 *
 *   node dist/test/bench/live-bench.js [--size-gib N]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostAgent, hostExec, TESTBED_DIR, IMAGES } from '../support/testbed.js';
import { agentPeakRss, timedKvmctl } from './bench-support.js';
import { flagsOrUsage, numberFlag, parseBenchFlags } from './bench-flags.js';
import { startHosts, stopHosts } from './bench-vm.js';
import { BLOCK, pickBlocks } from './block-picks.js';

const sizeGiB = flagsOrUsage('usage: scripts/bench live [--size-gib N]', () =>
  numberFlag('size-gib', parseBenchFlags({ 'size-gib': '10' }, process.argv.slice(2))['size-gib'], { min: 1, integer: true }),
);
const VM = 'lbench';

/**
 * Writes the picked blocks into the running VM's vdb from the host (HMP
 * qemu-io on its virtio device, as the guest would write them), all through
 * one virsh session (a connection per command costs ~0.1 s each).
 */
async function writeLive(seed: number): Promise<number> {
  const offsets = pickBlocks(seed, sizeGiB);
  const xml = await hostExec('hosta', ['virsh', '-q', '-c', 'qemu:///system', 'dumpxml', VM]);
  const disk = [...xml.matchAll(/<disk\b[\s\S]*?<\/disk>/g)].map((m) => m[0]).find((d) => d.includes("<target dev='vdb'"));
  const alias = disk ? /<alias name='([^']+)'/.exec(disk)?.[1] : undefined;
  if (!alias) throw new Error(`${VM} has no running vdb`);
  const dev = `/machine/peripheral/${alias}/virtio-backend`;
  const pattern = (o: number): string => `0x${((((o / BLOCK) * 7 + seed * 31) % 200) + 16).toString(16)}`;
  const commands = [
    ...offsets.map((o) => `qemu-monitor-command ${VM} --hmp 'qemu-io -d ${dev} "write -P ${pattern(o)} ${o} ${BLOCK}"'`),
    `qemu-monitor-command ${VM} --hmp 'qemu-io -d ${dev} "flush"'`,
  ];
  const file = join(tmpdir(), `live-bench-virsh-${seed}`);
  await writeFile(file, commands.join('\n') + '\n');
  await hostExec('hosta', ['bash', '-c', `virsh -q -c qemu:///system < ${file} >/dev/null`]);
  await rm(file, { force: true });
  return offsets.length * BLOCK;
}

/** Writes the picked blocks into the shut-off VM's image (one qemu-io, many commands). */
async function writeOffline(seed: number): Promise<number> {
  const offsets = pickBlocks(seed, sizeGiB);
  const file = join(tmpdir(), `live-bench-cmds-${seed}`);
  await writeFile(file, offsets.map((o) => `write -P 0x5a ${o} ${BLOCK}`).join('\n') + '\n');
  await hostExec('hosta', ['bash', '-c', `qemu-io -f qcow2 ${IMAGES}/${VM}-data.qcow2 < ${file} >/dev/null`]);
  await rm(file, { force: true });
  return offsets.length * BLOCK;
}

async function makeVm(): Promise<void> {
  const xml = `<domain type='qemu'><name>${VM}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${IMAGES}/${VM}.qcow2'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${IMAGES}/${VM}-data.qcow2'/><target dev='vdb' bus='virtio'/></disk>
<video><model type='none'/></video><memballoon model='none'/></devices></domain>`;
  const runs = (sizeGiB * 1024) / 64 / 2; // 64 MiB runs of unique random data, every other one
  await hostExec('hosta', [
    'bash',
    '-c',
    [
      'set -e',
      `cd ${IMAGES}`,
      `qemu-img convert -q -f raw -O qcow2 ${TESTBED_DIR}boot-sector.bin ${VM}.qcow2 && qemu-img resize -q -f qcow2 ${VM}.qcow2 1M`,
      `rm -f /var/tmp/${VM}.raw && truncate -s ${sizeGiB}G /var/tmp/${VM}.raw`,
      `for i in $(seq 0 ${runs - 1}); do dd if=/dev/urandom of=/var/tmp/${VM}.raw bs=1M count=64 seek=$((i * 128)) conv=notrunc status=none; done`,
      `qemu-img convert -q -f raw -O qcow2 -o compat=1.1 /var/tmp/${VM}.raw ${VM}-data.qcow2 && rm -f /var/tmp/${VM}.raw`,
      `cat > /tmp/${VM}.xml <<'XML'\n${xml}\nXML`,
      `virsh -q -c qemu:///system define /tmp/${VM}.xml >/dev/null && rm -f /tmp/${VM}.xml`,
    ].join('\n'),
  ]);
}

/** The agents' peak RSS on both hosts. */
interface AgentRss {
  hosta: number;
  hostb: number;
}

/** One measured sync: what it was, the bytes changed before it, kvmctl's figures and the agents' peak RSS. */
interface SyncRound {
  what: string;
  seconds: number;
  changed: number;
  result: Record<string, unknown>;
  rss: number;
  agentRss: AgentRss;
}

type Timed = Awaited<ReturnType<typeof timedKvmctl>>;

/** The offline clone (the copy the offline sync goes to), then the VM started and cloned live; with the agents' peak RSS after. */
async function makeClones(state: string): Promise<{ offline: Timed; clone: Timed; cloneRss: AgentRss }> {
  const offline = await timedKvmctl(['clone', VM, '--from', 'hosta', '--to', 'hostb', '--name', `${VM}-off`, '--yes'], state);
  await hostExec('hosta', ['virsh', '-q', '-c', 'qemu:///system', 'start', VM]);
  const clone = await timedKvmctl(['clone', VM, '--from', 'hosta', '--to', 'hostb', '--live', '--yes'], state);
  // The agents' peak RSS of the two clones; each measured sync below starts with fresh agents.
  const cloneRss = { hosta: await agentPeakRss('hosta'), hostb: await agentPeakRss('hostb') };
  return { offline, clone, cloneRss };
}

/** The measured syncs: live with the bitmap, live with hashes, then (the VM shut off) offline. */
async function measureSyncs(state: string): Promise<SyncRound[]> {
  const rounds: SyncRound[] = [];
  /** Times one sync with fresh agents, so each round's agent peak RSS is its own. */
  const measured = async (what: string, changed: number, args: string[]): Promise<void> => {
    await Promise.all([hostAgent('hosta', 'restart'), hostAgent('hostb', 'restart')]);
    const r = await timedKvmctl(args, state);
    rounds.push({ what, changed, ...r, agentRss: { hosta: await agentPeakRss('hosta'), hostb: await agentPeakRss('hostb') } });
  };
  // A first live sync makes the chain that the measured bitmap sync then uses.
  await writeLive(1);
  await timedKvmctl(['sync', VM, '--from', 'hosta', '--to', 'hostb', '--live'], state);
  await measured('sync --live (bitmap)', await writeLive(2), ['sync', VM, '--from', 'hosta', '--to', 'hostb', '--live']);
  await measured('sync --live --cbt=off (hashes)', await writeLive(3), ['sync', VM, '--from', 'hosta', '--to', 'hostb', '--live', '--cbt=off']);
  await hostExec('hosta', ['virsh', '-q', '-c', 'qemu:///system', 'destroy', VM]);
  await measured('sync (offline, VM shut off)', await writeOffline(4), ['sync', VM, '--from', 'hosta', '--to', 'hostb', '--name', `${VM}-off`]);
  return rounds;
}

/** Prints the live clone's time, each sync's figures, the bitmap / hash ratio and the clones' agent RSS. */
function printTable(clone: Timed, rounds: SyncRound[], cloneRss: AgentRss): void {
  const bitmap = rounds[0];
  const hash = rounds[1];
  console.log(
    `\n${sizeGiB} GiB qcow2 data disk, half unique random data; 1 % of its 64 KiB blocks written through QEMU before each sync; 2 cores shared by both hosts and the controller`,
  );
  console.log(`clone --live: ${clone.seconds.toFixed(1)} s`);
  for (const r of rounds) {
    const disks = (r.result.disks as { target: string; bytesRead?: number; bytesTransferred: number }[] | undefined) ?? [];
    const data = disks.find((d) => d.target.endsWith(`${VM}-data.qcow2`));
    const read = data?.bytesRead;
    console.log(
      `  ${r.what.padEnd(32)} ${r.seconds.toFixed(2).padStart(7)} s   delta ${(typeof r.result.delta === 'string' ? r.result.delta : 'file').padEnd(6)} changed ${(r.changed / 2 ** 20).toFixed(0)} MiB` +
        `${read !== undefined ? `, bytesRead ${(read / 2 ** 20).toFixed(0)} MiB (${(read / r.changed).toFixed(2)}x the changed bytes)` : ''}, on the wire ${(Number(r.result.bytesOnWire) / 2 ** 20).toFixed(0)} MiB` +
        `, agent peak RSS ${(r.agentRss.hosta / 2 ** 20).toFixed(0)} / ${(r.agentRss.hostb / 2 ** 20).toFixed(0)} MiB`,
    );
  }
  if (bitmap && hash) console.log(`bitmap / hash time: ${(bitmap.seconds / hash.seconds).toFixed(3)}x`);
  console.log(
    `agent peak RSS (source / destination), each sync with fresh agents; in the clones before: ${(cloneRss.hosta / 2 ** 20).toFixed(0)} / ${(cloneRss.hostb / 2 ** 20).toFixed(0)} MiB`,
  );
}

/** Writes the raw figures to bench-results/live-<date>.json and says where. */
async function writeFigures(raw: Record<string, unknown>): Promise<void> {
  await mkdir('bench-results', { recursive: true });
  const out = join('bench-results', `live-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(out, JSON.stringify(raw, null, 2));
  console.log(`raw figures: ${out}`);
}

async function main(): Promise<void> {
  const state = await mkdtemp(join(tmpdir(), 'kvmclone-live-bench-'));
  await startHosts();
  const raw: Record<string, unknown> = { sizeGiB, date: new Date().toISOString() };
  try {
    console.log(`making a VM with a ${sizeGiB} GiB qcow2 data disk, half of it unique random data ...`);
    await makeVm();
    const { offline, clone, cloneRss } = await makeClones(state);
    const rounds = await measureSyncs(state);
    raw.clone = { seconds: clone.seconds, result: clone.result };
    raw.offlineClone = { seconds: offline.seconds };
    raw.rounds = rounds;
    raw.agentPeakRssClones = cloneRss;
    printTable(clone, rounds, cloneRss);
    await writeFigures(raw);
  } finally {
    await stopHosts();
    await rm(state, { recursive: true, force: true });
  }
}

await main();
