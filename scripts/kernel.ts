/**
 * `npm run kernel`: register the tslab (TypeScript) kernel for Jupyter without pip.
 *
 *   npm run kernel            → ./.jupyter/share/jupyter/kernels/muco-ts (use JUPYTER_PATH=$PWD/.jupyter/share/jupyter)
 *   npm run kernel -- --user  → the user's Jupyter data dir (~/.local/share/jupyter/kernels/muco-ts): JupyterLab
 *                               and the classic Notebook find it with no environment variable
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..');

/** The kernel's name, as the notebooks' metadata (kernelspec.name) asks for it. */
export const KERNEL_NAME = 'muco-ts';

export function kernelSpec(): Record<string, unknown> {
  const bin = path.join(root, 'node_modules', '.bin', 'tslab');
  if (!fs.existsSync(bin)) throw new Error(`tslab is not installed (${bin} missing): run \`npm ci\` first.`);
  return {
    argv: [bin, 'kernel', '--config-path', '{connection_file}'],
    display_name: 'TypeScript (tslab, muco-ts)',
    language: 'typescript',
  };
}

export function kernelDir(user: boolean): string {
  const base = user
    ? (process.env['JUPYTER_DATA_DIR'] ?? path.join(os.homedir(), '.local', 'share', 'jupyter'))
    : path.join(root, '.jupyter', 'share', 'jupyter');
  // A project-specific name: registering never replaces another project's (or a global) tslab kernel.
  return path.join(base, 'kernels', KERNEL_NAME);
}

export function installKernel(user: boolean): string {
  const dir = kernelDir(user);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'kernel.json'), JSON.stringify(kernelSpec(), null, 2) + '\n');
  return dir;
}

if (require.main === module) {
  const user = process.argv.includes('--user');
  const dir = installKernel(user);
  process.stdout.write(`tslab kernel '${KERNEL_NAME}' registered in ${dir}\n`);
  if (!user) {
    process.stdout.write(
      `Open the notebooks with:\n  JUPYTER_PATH=${path.join(root, '.jupyter', 'share', 'jupyter')} jupyter lab notebooks/\n` +
        `(or \`npm run kernel -- --user\` once, then plain \`jupyter lab\`).\n`,
    );
  }
}
