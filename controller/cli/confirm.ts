/**
 * Asks the person at the terminal to confirm a change. Never asks when
 * stdin is not a TTY, with --json, or with --yes: scripts are never stopped
 * by a prompt (a destructive change then needs --yes).
 */
import { createInterface } from 'node:readline/promises';

/**
 * True when the user agrees. With --yes: true without asking. Where no prompt
 * is possible (--json, no TTY): `unattended` decides — true for changes that
 * only add (a clone), false for ones that remove (a sync dropping a disk).
 */
export async function confirm(question: string, opts: { yes: boolean; json: boolean; signal: AbortSignal; unattended: boolean }): Promise<boolean> {
  if (opts.yes) return true;
  if (opts.json || process.stdin.isTTY !== true) return opts.unattended;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `, { signal: opts.signal });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
