#!/usr/bin/env node
/**
 * kvmctl: the controller CLI (README "kvmctl"). Only parses the command line and
 * hands each verb to its file in commands/; exits with the verb's code.
 */
import { buildProgram } from './cli/program.js';
import { EXIT_USAGE } from './cli/exit-codes.js';

// A reader that goes away (`kvmctl ops list | head -5`) ends the output quietly, as it does for git and ls:
// what is left to print is dropped, and the command finishes with its own exit code — an operation under
// way is not abandoned half-made because its log reader closed.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    stream.write = () => true;
  });
}

const run = (code: Promise<number>): void => {
  code.then(
    (c) => process.exit(c),
    (err: unknown) => {
      process.stderr.write(`kvmctl: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
};

const program = buildProgram(run);

try {
  await program.parseAsync();
} catch (err) {
  const code = (err as { exitCode?: number }).exitCode;
  process.exit(code === 0 ? 0 : EXIT_USAGE);
}
