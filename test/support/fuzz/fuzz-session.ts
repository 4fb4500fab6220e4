/**
 * One fuzz session from start to verdict, shared by the integration test and
 * `scripts/bench fuzz`: start the target, snapshot what must not change, run
 * the calls, stop the agent (it must exit 0 on SIGTERM, i.e. it was still up
 * and shut down cleanly), and list every confinement violation found.
 */
import { createAgentClients, unaryCall, type AgentClients } from '../../../shared/agent-clients.js';
import { atimeRecordsReads, diffSnapshots, findMarker, listNames, snapshotTree, type TreeSnapshot } from './canary.js';
import { runFuzz, type FuzzReport } from './fuzz-run.js';
import { removeFuzzTarget, startFuzzTarget, type FuzzTarget, type LibvirtChoice } from './fuzz-target.js';

/** Files in /etc that the host itself rewrites (lock and backup files of account tools). */
const ETC_CHURN = /^\/etc\/(\.pwd\.lock|(passwd|group|shadow|gshadow|subuid|subgid)[-+]|ld\.so\.cache|mtab|resolv\.conf|adjtime)/;

/** The outcome of a session. */
export interface FuzzVerdict {
  report: FuzzReport;
  libvirt: 'sandbox' | 'test';
  /** Capability bounding set the agent ran with (undefined: not applied, not root). */
  capabilities: string | undefined;
  privateTmp: boolean;
  sockets: string[];
  /** Whether reads of canaries were observable (atime); false on a noatime mount. */
  readsChecked: boolean;
  exitCode: number | string;
  /** Everything that broke a rule: report failures plus confinement violations. */
  violations: string[];
  /** What the agent left in its private /tmp (not an escape, but worth a look). */
  tmpLeftovers: string[];
}

/** What the host looked like before the calls. */
interface HostBefore {
  /** Whether reads of canaries are observable (atime). */
  readsChecked: boolean;
  canaries: TreeSnapshot;
  etc: Set<string>;
}

/** Notes what the calls must not change: whether atimes show reads, the canary tree, the names in /etc. */
async function lookAtHost(target: FuzzTarget): Promise<HostBefore> {
  const readsChecked = await atimeRecordsReads(target.base);
  const canaries = await snapshotTree(target.outside);
  const etc = await listNames('/etc', 3);
  return { readsChecked, canaries, etc };
}

/** Between batches: puts the fixtures back and stops any domain a definition started (it would spin under TCG). */
async function tidyAfterBatch(target: FuzzTarget, control: AgentClients): Promise<void> {
  await target.replant();
  // A definition that passed the policy and started would spin under TCG: stop it.
  if (target.libvirt === 'sandbox') {
    const list = await unaryCall(control.domain, control.domain.listDomains, {}, { deadlineMs: 30_000 }).catch(() => ({ domains: [] }));
    for (const d of list.domains.filter((x) => x.state === 'DOMAIN_STATE_RUNNING' || x.state === 'DOMAIN_STATE_PAUSED')) {
      await unaryCall(control.domain, control.domain.destroyDomain, { name: d.name }, { deadlineMs: 30_000 }).catch(() => undefined);
    }
  }
}

/** Everything that broke a rule once the agent has stopped, and what it left in its private /tmp. */
async function findViolations(
  target: FuzzTarget,
  seed: number,
  report: FuzzReport,
  exitCode: number | string,
  before: HostBefore,
): Promise<{ violations: string[]; tmpLeftovers: string[] }> {
  const violations = [...report.failures];
  // An INTERNAL status is the agent saying it did not expect what happened: each is a finding, with its log line.
  for (const line of target.agent.output.filter((l) => l.includes('"msg":"internal error"'))) violations.push(`agent logged: ${line.slice(0, 2000)}`);
  if (exitCode !== 0) violations.push(`the agent exited ${exitCode} on SIGTERM (seed ${seed}); last output:\n${target.agent.output.slice(-20).join('\n')}`);
  const canariesAfter = await snapshotTree(target.outside);
  violations.push(...diffSnapshots(before.canaries, canariesAfter, { compareAtime: before.readsChecked, readable: target.readableCanaries }).map((d) => `canary: ${d}`));
  const marked = await findMarker(['/', '/etc', '/tmp', '/var/tmp', '/run', '/var/lib/libvirt', '/root', '/var/log'], target.world.marker, 3, [target.base]);
  violations.push(...marked.map((p) => `escape: ${p} carries the fuzzer's marker`));
  const etcAfter = await listNames('/etc', 3);
  violations.push(...[...etcAfter].filter((p) => !before.etc.has(p) && !ETC_CHURN.test(p)).map((p) => `new in /etc: ${p}`));
  const tmpLeftovers = target.privateTmp !== undefined ? [...(await listNames(target.privateTmp, 2))] : [];
  violations.push(...tmpLeftovers.filter((p) => p.includes(target.world.marker)).map((p) => `escape into the agent's /tmp: ${p}`));
  return { violations, tmpLeftovers };
}

/** Runs a whole session; never throws for a finding (it is in `violations`), only for a broken set-up. */
export async function fuzzSession(options: {
  seed: number;
  count: number;
  libvirt?: LibvirtChoice;
  concurrency?: number;
  deadlineMs?: number;
  log?: (line: string) => void;
}): Promise<FuzzVerdict> {
  const log = options.log ?? (() => undefined);
  const target = await startFuzzTarget({ seed: options.seed, libvirt: options.libvirt });
  try {
    const before = await lookAtHost(target);
    log(
      `fuzz: seed ${options.seed}, ${options.count} calls, libvirt ${target.libvirt}, sockets ${target.world.sockets.join(' ')}, capabilities ${target.capabilities ?? 'unchanged'}, private /tmp ${target.privateTmp !== undefined}`,
    );
    const control = createAgentClients(`unix:${target.world.sockets.find((s) => s.endsWith('/agent.sock')) ?? ''}`);
    const report = await runFuzz(target.world, () => target.agent.child.exitCode === null && target.agent.child.signalCode === null, {
      seed: options.seed,
      count: options.count,
      concurrency: options.concurrency,
      deadlineMs: options.deadlineMs,
      afterBatch: async (done) => {
        await tidyAfterBatch(target, control);
        log(`fuzz: ${done}/${options.count} calls`);
      },
    }).finally(() => control.close());
    const exitCode = await target.close();
    const { violations, tmpLeftovers } = await findViolations(target, options.seed, report, exitCode, before);
    return {
      report,
      libvirt: target.libvirt,
      capabilities: target.capabilities,
      privateTmp: target.privateTmp !== undefined,
      sockets: [...target.world.sockets],
      readsChecked: before.readsChecked,
      exitCode,
      violations,
      tmpLeftovers,
    };
  } finally {
    await target.close();
    await removeFuzzTarget(target);
  }
}
