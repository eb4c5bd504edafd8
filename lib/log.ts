/**
 * The one logger of the library. `lib/` prints nothing except through here, so a notebook or a test can
 * silence it (`setLogLevel('silent')`) or raise it (`MUCO_LOG=debug`).
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

function levelFromEnv(): LogLevel {
  const raw = process.env['MUCO_LOG'];
  if (raw === undefined || raw === '') return 'info';
  if (raw in ORDER) return raw as LogLevel;
  throw new Error(`MUCO_LOG=${raw} is not a log level; use one of ${Object.keys(ORDER).join(', ')}.`);
}

let current: LogLevel | undefined;

/** The active level: MUCO_LOG if set, else `info`, unless changed by `setLogLevel`. */
export function logLevel(): LogLevel {
  if (current === undefined) current = levelFromEnv();
  return current;
}

export function setLogLevel(level: LogLevel): void {
  current = level;
}

function emit(level: LogLevel, parts: unknown[]): void {
  if (ORDER[level] < ORDER[logLevel()]) return;
  const stream = level === 'error' || level === 'warn' ? process.stderr : process.stdout;
  stream.write(parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join(' ') + '\n');
}

export const log = {
  debug: (...parts: unknown[]): void => emit('debug', parts),
  info: (...parts: unknown[]): void => emit('info', parts),
  warn: (...parts: unknown[]): void => emit('warn', parts),
  error: (...parts: unknown[]): void => emit('error', parts),
};
