// Runs the real CLI (node js/cli.js) from the repository root, as the tests' users would.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = fileURLToPath(new URL('../../js/cli.js', import.meta.url));

// { status, stdout, stderr }; stdin, when given, is written and closed.
export function cli(args, { stdin } = {}) {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { cwd: ROOT, maxBuffer: 1 << 24 },
      (error, stdout, stderr) => resolve({ status: error ? error.code : 0, stdout, stderr }));
    if (stdin !== undefined) child.stdin.end(stdin);
  });
}
