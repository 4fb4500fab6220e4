/**
 * Asks the person at the terminal to confirm a change. Never asks when
 * stdin is not a TTY, with --json, or with --yes: scripts are never stopped
 * by a prompt.
 */
import { createInterface } from 'node:readline/promises';

/** True when the user agrees (or when no prompt is possible or wanted). */
export async function confirm(question: string, opts: { yes: boolean; json: boolean; signal: AbortSignal }): Promise<boolean> {
  if (opts.yes || opts.json || process.stdin.isTTY !== true) return true;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `, { signal: opts.signal });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
