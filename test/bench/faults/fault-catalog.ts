/**
 * The faults of the matrix: each is armed for one trial (its random choices
 * drawn from the trial's generator before the run starts), injected once at
 * the trial's moment, and removed after the run ends — as an operator's
 * system would heal: systemd restarts a killed agent after a short delay
 * (Restart=on-failure), a cut SSH connection and a restarted libvirtd need
 * nothing, a full filesystem is emptied, an unreadable image readable again.
 */
import { disableIoErrors, enableIoErrors } from '../../support/faults/io-error.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KvmctlProcess } from '../../support/kvmctl.js';
import { hostAgent, hostExec, testbedScript } from '../../support/testbed.js';
import { DST, IMAGES, SRC } from './fault-hosts.js';
import type { FaultOperation } from './operations.js';
import type { Rng } from './prng.js';

/** The faults' names, as `--faults` and `--only` spell them. */
export const FAULT_NAMES = ['src-agent-kill', 'dst-agent-kill', 'kvmctl-kill', 'ssh-cut', 'libvirtd-restart', 'dst-enospc', 'src-io-error'] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

/** A fault armed for one trial. */
export interface ArmedFault {
  /** The choices made (host, delay, offset), for the record. */
  readonly detail: string;
  /** Injects the fault; resolves once it is in place (an agent's delayed restart goes on in the background). */
  inject(run: KvmctlProcess): Promise<void>;
  /** Removes it; called once the first run has ended, whether or not the fault was injected. */
  remove(): Promise<void>;
}

/** One entry of the catalog. */
export interface Fault {
  readonly name: FaultName;
  /** Why it cannot run here, or undefined when it can. */
  unavailable(): Promise<string | undefined>;
  /** Draws the trial's choices for this fault. */
  arm(rng: Rng, op: FaultOperation): ArmedFault;
}

/** An armed fault as a catalog entry writes it: `remove` left out where the fault heals by itself (a killed kvmctl, a cut SSH connection). */
type ArmedFaultSpec = Omit<ArmedFault, 'remove'> & Partial<Pick<ArmedFault, 'remove'>>;

/**
 * A catalog entry: its name and how it is armed. Every fault here can run
 * wherever the testbed runs, so none is ever unavailable; the interface
 * keeps `unavailable` for a fault that needs what a testbed may lack.
 */
function fault(name: FaultName, arm: (rng: Rng, op: FaultOperation) => ArmedFaultSpec): Fault {
  return {
    name,
    unavailable: () => Promise.resolve(undefined),
    // Object.assign, not a spread: a spread would read a `detail` getter once, at arming.
    arm: (rng, op) => {
      const armed = arm(rng, op);
      return Object.assign(armed, { remove: armed.remove ?? (() => Promise.resolve()) });
    },
  };
}

/** SIGKILLs the sshd session processes of the kvmclone account inside `host` (its network namespace only); resolves with how many. */
export async function killSshSessions(host: string): Promise<number> {
  const script = `me=$(readlink /proc/self/ns/net); n=0; for p in $(pgrep -f '^sshd: kvmclone'); do if [ "$(readlink /proc/$p/ns/net 2>/dev/null)" = "$me" ]; then kill -9 "$p" && n=$((n+1)); fi; done; echo $n`;
  return Number((await hostExec(host, ['bash', '-c', script])).trim());
}

/** Ensures the agent of `host` runs (starts it when a kill left it down). */
async function agentUp(host: string): Promise<void> {
  const running = await hostAgent(host, 'status').then(
    () => true,
    () => false,
  );
  if (!running) await hostAgent(host, 'start');
}

/** Kill -9 of an agent, restarted after a seeded 1-5 s delay (systemd's Restart=on-failure with RestartSec). */
function agentKill(name: FaultName, host: string): Fault {
  return fault(name, (rng) => {
    const delayMs = Math.round(rng.uniform(1000, 5000));
    let restarting: Promise<void> = Promise.resolve();
    return {
      detail: `${host}, restarted after ${delayMs} ms`,
      async inject() {
        await hostAgent(host, 'kill');
        restarting = sleep(delayMs).then(() => agentUp(host));
      },
      async remove() {
        await restarting.catch(() => undefined);
        await agentUp(host);
      },
    };
  });
}

const kvmctlKill = fault('kvmctl-kill', () => ({
  detail: 'SIGKILL',
  async inject(run) {
    run.child.kill('SIGKILL');
  },
}));

const sshCut = fault('ssh-cut', (rng) => {
  const host = rng.pick([SRC, DST]);
  let killed = 0;
  return {
    get detail() {
      return `${host}, ${killed} sshd session process(es) killed`;
    },
    async inject() {
      killed = await killSshSessions(host);
    },
  };
});

const libvirtdRestart = fault('libvirtd-restart', (rng) => {
  const host = rng.pick([SRC, DST]);
  let restarting: Promise<unknown> = Promise.resolve();
  return {
    detail: host,
    async inject() {
      restarting = testbedScript('host-libvirtd.sh', [host, 'restart']);
      await restarting;
    },
    async remove() {
      await restarting.catch(() => undefined);
      // Up whatever happened to the restart above.
      const up = await testbedScript('host-libvirtd.sh', [host, 'status']).then(
        () => true,
        () => false,
      );
      if (!up) await testbedScript('host-libvirtd.sh', [host, 'restart']);
    },
  };
});

const FILLERS = [`${IMAGES}/kvmclone-faults-filler`, `${IMAGES}/kvmclone-faults-filler2`] as const;

const dstEnospc = fault('dst-enospc', () => ({
  detail: `${DST} images filesystem filled`,
  async inject() {
    // fallocate takes all but 4 MiB at once; dd takes the rest as the run frees or needs it.
    await hostExec(DST, [
      'bash',
      '-c',
      `avail=$(df --output=avail -B1 ${IMAGES} | tail -1); fallocate -l $((avail > 4194304 ? avail - 4194304 : 4096)) ${FILLERS[0]} || true; dd if=/dev/zero of=${FILLERS[1]} bs=1M status=none 2>/dev/null || true`,
    ]);
  },
  async remove() {
    await hostExec(DST, ['rm', '-f', ...FILLERS]);
  },
}));

const srcIoError = fault('src-io-error', (rng, op) => {
  // The largest image: its data disk. From a seeded offset in its first half, so a read of data fails.
  const file = op.images[op.images.length - 1] ?? '';
  const fromOffset = rng.int(0, 127) * 1024 * 1024;
  let enabled = false;
  return {
    detail: `${SRC}:${IMAGES}/${file} from ${fromOffset}`,
    async inject() {
      await enableIoErrors(SRC, file, fromOffset);
      enabled = true;
    },
    async remove() {
      if (enabled) await disableIoErrors(SRC, file);
    },
  };
});

/** Every fault, by name. */
export const FAULTS: Record<FaultName, Fault> = {
  'src-agent-kill': agentKill('src-agent-kill', SRC),
  'dst-agent-kill': agentKill('dst-agent-kill', DST),
  'kvmctl-kill': kvmctlKill,
  'ssh-cut': sshCut,
  'libvirtd-restart': libvirtdRestart,
  'dst-enospc': dstEnospc,
  'src-io-error': srcIoError,
};
