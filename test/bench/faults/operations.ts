/**
 * The operations the fault matrix breaks: an offline clone, an offline sync
 * of changed blocks onto an earlier copy, and a `--live` sync of a running
 * guest. Each says how to make its VM once, how to give a trial something to
 * do (a destination without the clone; blocks changed at the source), the
 * kvmctl command, and which images the checker compares.
 */
import { hostExec, TESTBED_DIR } from '../../support/testbed.js';
import { kvmctl } from '../../support/kvmctl.js';
import { makeTwoDiskVm } from '../../support/two-disk-vm.js';
import { overwriteBlocks } from '../../support/change-blocks.js';
import { hostWrite } from '../../support/live-guest.js';
import { DST, IMAGES, SRC, virsh } from './fault-hosts.js';
import type { Rng } from './prng.js';

/** The operations' names, as `--ops` and `--only` spell them. */
export const OP_NAMES = ['clone', 'sync', 'live'] as const;
export type OpName = (typeof OP_NAMES)[number];

/** One operation of the matrix. */
export interface FaultOperation {
  readonly name: OpName;
  /** clone: the destination starts with nothing; sync: with an earlier copy that must survive. */
  readonly kind: 'clone' | 'sync';
  readonly vm: string;
  /** Image names (in the images directory, the same on both hosts) the checker digests and compares. */
  readonly images: readonly string[];
  /** Digest what a guest sees rather than the file's bytes (a running source's qcow2 metadata changes). */
  readonly contentDigest: boolean;
  /** kvmctl's arguments (without the testbed's global flags). */
  readonly args: readonly string[];
  /** Once per matrix: the source VM and, for a sync, the first copy. */
  setup(stateDir: string): Promise<void>;
  /** Before each trial: the destination as the operation expects it, and work for the run to do. */
  prepare(rng: Rng): Promise<void>;
}

/** Random data in the clone's data disk: enough that TRANSFER takes a few seconds here. */
const CLONE_DATA_MIB = 400;
/** Random data in the synced VM's data disk, and 64 KiB blocks changed before each sync trial. */
const SYNC_DATA_MIB = 300;
const SYNC_CHANGED_BLOCKS = 384;
/** The live guest's data disk and how much the host writes into it before each trial. */
const LIVE_VDB_MIB = 256;
const LIVE_WRITES = 6;

async function mustSucceed(args: string[], stateDir: string): Promise<void> {
  const out = await kvmctl(['--json', ...args], { stateDir });
  if (out.code !== 0) throw new Error(`setup: kvmctl ${args.join(' ')} exited ${out.code}: ${out.stdout.slice(-2000)}\n${out.stderr.slice(-2000)}`);
}

/** An offline clone or sync of a two-disk VM (support/two-disk-vm.ts): its three images are compared byte for byte. */
function offlineOperation(kind: 'clone' | 'sync', vm: string): Omit<FaultOperation, 'setup' | 'prepare'> {
  return { name: kind, kind, vm, images: [`${vm}.qcow2`, `${vm}-base.qcow2`, `${vm}-data.raw`], contentDigest: false, args: [kind, vm, '--from', SRC, '--to', DST] };
}

const clone: FaultOperation = {
  ...offlineOperation('clone', 'fc'),
  async setup() {
    await makeTwoDiskVm(SRC, 'fc', { rawGiB: 1, dataMiB: CLONE_DATA_MIB });
  },
  async prepare() {
    // A trial ends with the clone made (or nothing, or what a failed trial left): start each from nothing.
    await hostExec(DST, [
      'bash',
      '-c',
      `virsh -q -c qemu:///system undefine fc >/dev/null 2>&1 || true; rm -f ${IMAGES}/fc.qcow2 ${IMAGES}/fc-base.qcow2 ${IMAGES}/fc-data.raw ${IMAGES}/.fc*.kvmclone-staging`,
    ]);
  },
};

const sync: FaultOperation = {
  ...offlineOperation('sync', 'fs'),
  async setup(stateDir) {
    await makeTwoDiskVm(SRC, 'fs', { rawGiB: 1, dataMiB: SYNC_DATA_MIB });
    await mustSucceed(['clone', 'fs', '--from', SRC, '--to', DST], stateDir);
  },
  async prepare(rng) {
    await overwriteBlocks(SRC, `${IMAGES}/fs-data.raw`, SYNC_CHANGED_BLOCKS, rng.int(1, 2 ** 31));
  },
};

const live: FaultOperation = {
  name: 'live',
  kind: 'sync',
  vm: 'fl',
  images: ['fl.qcow2', 'fl-data.qcow2'],
  contentDigest: true,
  args: ['sync', 'fl', '--from', SRC, '--to', DST, '--live'],
  async setup(stateDir) {
    const xml = `<domain type='qemu'><name>fl</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${IMAGES}/fl.qcow2'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${IMAGES}/fl-data.qcow2'/><target dev='vdb' bus='virtio'/></disk>
<video><model type='none'/></video><memballoon model='none'/></devices></domain>`;
    await hostExec(SRC, [
      'bash',
      '-c',
      [
        'set -e',
        `cd ${IMAGES}`,
        `qemu-img convert -q -f raw -O qcow2 ${TESTBED_DIR}boot-sector.bin fl.qcow2 && qemu-img resize -q -f qcow2 fl.qcow2 1M`,
        `truncate -s ${LIVE_VDB_MIB}M /tmp/fl-data.raw`,
        `for i in $(seq 0 63); do dd if=/dev/urandom of=/tmp/fl-data.raw bs=1M count=1 seek=$((i * 3)) conv=notrunc status=none; done`,
        'qemu-img convert -q -f raw -O qcow2 -o compat=1.1 /tmp/fl-data.raw fl-data.qcow2 && rm -f /tmp/fl-data.raw',
        `cat > /tmp/fl.xml <<'XML'\n${xml}\nXML`,
        'virsh -q -c qemu:///system define /tmp/fl.xml >/dev/null && rm -f /tmp/fl.xml',
        'virsh -q -c qemu:///system start fl >/dev/null',
      ].join('\n'),
    ]);
    await mustSucceed(['clone', 'fl', '--from', SRC, '--to', DST, '--live'], stateDir);
  },
  async prepare(rng) {
    if (!/running/.test(await virsh(SRC, ['domstate', 'fl']))) throw new Error('the live source fl is not running');
    for (let i = 0; i < LIVE_WRITES; i += 1) {
      await hostWrite(SRC, 'fl', { pattern: rng.int(1, 255), offset: rng.int(0, LIVE_VDB_MIB - 1) * 1024 * 1024, length: 1024 * 1024 });
    }
  },
};

/** Every operation, by name. */
export const OPERATIONS: Record<OpName, FaultOperation> = { clone, sync, live };
