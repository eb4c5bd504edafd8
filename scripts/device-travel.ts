/**
 * `npm run device-travel [-- --slim | --restore]`: what travels to the GPU machine, and a way to make it fit.
 *
 * The device tool copies the checkout's tracked files and its untracked, not-ignored files, plus the paths a
 * call carries (the device bundle), and refuses more than 64 MiB in all. Our committed results (models of the
 * full-scale runs and the archive) are well over that, and the GPU check needs none of them: the bundle carries
 * the one run it replays. So, for the length of one device call:
 *
 *   (no option)  print the size that would travel, with `device-bundle/` carried, against the limit
 *   --slim       drop `results/` from the git index only (the files and the commits keep it) and ignore it in
 *                .git/info/exclude, so that it does not travel; refused while results/ has staged changes
 *   --restore    put what --slim took out back in the index and remove the exclude lines; without a slim in
 *                effect it does nothing
 *
 * While slimmed, `git status` shows results/ as deleted: run --restore before any commit. docs/gpu.md gives the
 * whole device procedure.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { readArgs } from '../lib/cli-args';

export const TRAVEL_LIMIT_MIB = 64;
/** What --slim takes out of the index: everything the GPU check does not read. */
export const SLIM_PATHS = ['results'];
const EXCLUDE_MARK = '# device-travel --slim (npm run device-travel -- --restore removes these lines)';

function git(repo: string, args: string[]): string {
  return execFileSync('git', args, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
}

/** Bytes under `p` (a file or a folder; links count as themselves). */
export function sizeOf(p: string): number {
  if (!fs.existsSync(p)) return 0;
  const st = fs.lstatSync(p);
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((n, e) => n + sizeOf(path.join(p, e)), 0);
}

/**
 * Bytes that travel from `repo`: tracked and untracked-not-ignored files that exist (as `git ls-files` lists
 * them), `shared/` if there is one (the tool always sends it), plus the carried paths.
 */
export function travellingBytes(repo: string, carried: readonly string[] = []): { tree: number; carried: number } {
  const files = git(repo, ['ls-files', '-z', '--cached', '--others', '--exclude-standard'])
    .split('\0')
    .filter((f) => f !== '');
  const listed = [...new Set(files)].filter((f) => !f.startsWith('shared/'));
  const tree = listed.reduce(
    (n, f) => {
      const p = path.join(repo, f);
      return n + (fs.existsSync(p) && fs.lstatSync(p).isFile() ? fs.lstatSync(p).size : 0);
    },
    sizeOf(path.join(repo, 'shared')),
  );
  return { tree, carried: carried.reduce((n, c) => n + sizeOf(path.join(repo, c)), 0) };
}

function excludeFile(repo: string): string {
  // In a linked worktree git answers with an absolute path.
  return path.resolve(repo, git(repo, ['rev-parse', '--git-path', 'info/exclude']).trim());
}

/** True while `--slim` is in effect (its exclude lines are present). */
export function isSlim(repo: string): boolean {
  const f = excludeFile(repo);
  return fs.existsSync(f) && fs.readFileSync(f, 'utf8').split('\n').includes(EXCLUDE_MARK);
}

/** True when no file under `paths` is in the index (what `--slim` leaves). */
function outOfIndex(repo: string, paths: readonly string[]): boolean {
  return git(repo, ['ls-files', '--', ...paths]).trim() === '';
}

/**
 * Take `paths` out of the index (not the working tree or the commits) and ignore them. The exclude lines go in
 * first, so that a slim that fails half-way is still undone by `restore`.
 */
export function slim(repo: string, paths: readonly string[] = SLIM_PATHS): void {
  if (!isSlim(repo)) {
    const staged = git(repo, ['diff', '--cached', '--name-only', '--', ...paths]).trim();
    if (staged !== '') throw new Error(`Staged changes under ${paths.join(', ')} (${staged.split('\n')[0]} …): commit or unstage them before --slim.`);
    const f = excludeFile(repo);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    const before = fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
    const lines = [EXCLUDE_MARK, ...paths.map((p) => `/${p}/`)].join('\n');
    fs.writeFileSync(f, `${before}${before === '' || before.endsWith('\n') ? '' : '\n'}${lines}\n`);
  }
  // Also when already slim: the index may have been restored by hand since.
  git(repo, ['rm', '-r', '-q', '--cached', '--ignore-unmatch', '--', ...paths]);
}

/**
 * Undo `slim`: the files it took out of the index back as committed, its exclude lines gone. Without a slim in
 * effect it does nothing, so a user's staged changes are never touched.
 */
export function restore(repo: string, paths: readonly string[] = SLIM_PATHS): void {
  if (!isSlim(repo)) return;
  // Only the index entries slim removed: staged deletions of files HEAD has.
  const removed = git(repo, ['diff', '--cached', '--name-only', '--diff-filter=D', '-z', '--', ...paths]);
  if (removed !== '')
    execFileSync('git', ['reset', '-q', '--pathspec-from-file=-', '--pathspec-file-nul'], { cwd: repo, input: removed, stdio: ['pipe', 'pipe', 'pipe'] });
  const f = excludeFile(repo);
  const lines = fs.readFileSync(f, 'utf8').split('\n');
  const at = lines.indexOf(EXCLUDE_MARK);
  const marked = new Set(paths.map((p) => `/${p}/`));
  let end = at + 1;
  while (end < lines.length && marked.has(lines[end] as string)) end++;
  lines.splice(at, end - at);
  fs.writeFileSync(f, lines.join('\n'));
}

function main(): void {
  const args = readArgs(process.argv.slice(2), { '--slim': 'flag', '--restore': 'flag' } as const, {
    unknown: (a) => `Unknown option ${a}; see the header of scripts/device-travel.ts.`,
  });
  const repo = path.join(__dirname, '..');
  if (args.flags.has('--slim') && args.flags.has('--restore')) throw new Error('Give --slim or --restore, not both.');
  if (args.flags.has('--slim')) slim(repo);
  if (args.flags.has('--restore')) restore(repo);
  const mib = (b: number): string => (b / 2 ** 20).toFixed(1);
  const t = travellingBytes(repo, ['device-bundle']);
  const total = t.tree + t.carried;
  const fits = total / 2 ** 20 <= TRAVEL_LIMIT_MIB;
  process.stdout.write(
    `travels: ${mib(t.tree)} MiB of working tree + ${mib(t.carried)} MiB of device-bundle/ = ${mib(total)} MiB (limit ${TRAVEL_LIMIT_MIB}): ` +
      `${fits ? 'fits' : 'too large'}${
        isSlim(repo) && outOfIndex(repo, SLIM_PATHS)
          ? '; results/ is out of the index: run `npm run device-travel -- --restore` before committing'
          : fits
            ? ''
            : '; --slim takes results/ out for one device call'
      }\n`,
  );
}

if (require.main === module) {
  try {
    main();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
}
