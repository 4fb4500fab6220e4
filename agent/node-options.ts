/**
 * The Node/V8 options the agent must run with, and a check that it does.
 *
 * The agent moves gigabytes through Buffers, which V8 counts against the old
 * generation's allocation limit. With V8's default limit for a ~16 MB heap it
 * ran a full mark-compact every ~13 MB moved: on the testbed a 5.3 GiB clone
 * cost each agent ~400 major GCs and 15 user-seconds, two thirds of it GC.
 * A 64 MiB initial old space leaves room for the data in flight: a handful of
 * major GCs per clone and 6–7 user-seconds (clone 40 s -> ~24 s). 128 MiB
 * saved about one more CPU-second but let the receiving agent's peak RSS pass
 * 200 MiB (buffers promoted to the old space wait longer for a major GC).
 * The young generation is held to 1 MiB semi-spaces, V8's smallest (its
 * default grows them to 16): scavenges come more often and free dead transfer
 * Buffers before they are promoted, and the unused new space is not resident.
 * Measured with scripts/bench load (8 clones at once): 16 -> 4 MiB took the
 * destination's peak RSS from 203 to 181 MiB and its CPU from 27 to 20 s;
 * 4 -> 1 MiB (session 26, same run) took one clone's destination from 144 to
 * 124 MiB and the eight clones' destination CPU from 31.0 to 24.6 s (60.4 s
 * wall against 68.4), and left the agents' RSS after a full collection under
 * load 20–30 MiB lower (concurrent-load e2e), which let memory.soft_limit
 * come down (memory-governor.ts).
 * `--expose-gc` gives the memory governor (agent/memory/memory-governor.ts)
 * its early collections under many concurrent transfers.
 * V8 reads these only at start-up (not from NODE_OPTIONS, nor from
 * v8.setFlagsFromString later), so it is on the agent's `#!` line
 * (agent/main.ts), which the systemd unit and `kvmclone-agent` use, and test
 * harnesses pass it explicitly.
 */

/**
 * Environment the agent's process must start with. MALLOC_ARENA_MAX=2: glibc
 * gives each thread that allocates (libuv's pool, V8's platform threads, the
 * hashing threads) an arena of its own, and freed memory stays in each —
 * ~15 MiB of a destination agent's RSS under 8 operations sat in seven
 * thread arenas (smaps of the concurrent-load e2e). Two arenas hold it
 * together: destination peak 186 and 191 MiB against 192–199 without
 * (concurrent-load e2e, session 23). glibc reads it only at start, so the
 * package's wrapper (/usr/sbin/kvmclone-agent) and the test harnesses set it.
 */
export const AGENT_ENVIRONMENT: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** Options for `node` when it runs dist/agent/main.js. */
export const AGENT_NODE_OPTIONS: readonly string[] = ['--initial-old-space-size=64', '--max-semi-space-size=1', '--expose-gc'];

/** The options of AGENT_NODE_OPTIONS this process was started without (empty when all are there). */
export function missingNodeOptions(execArgv: readonly string[] = process.execArgv): string[] {
  return AGENT_NODE_OPTIONS.filter((option) => !execArgv.includes(option));
}
