/**
 * Training progress: a one-line bar redrawn in a terminal, plain progress lines elsewhere (notebooks, CI logs,
 * files). Output goes through lib/log, so `setLogLevel('warn')` silences it.
 */
import { log } from './log';

export interface ProgressOptions {
  total: number;
  /** Print a line every `every` steps when not on a terminal. */
  every: number;
  label: string;
  /** Force a mode; default: bar on a TTY stderr, lines otherwise. */
  mode?: 'bar' | 'lines';
}

export class Progress {
  private readonly start = Date.now();
  private readonly mode: 'bar' | 'lines';

  constructor(private readonly opts: ProgressOptions) {
    this.mode = opts.mode ?? (process.stderr.isTTY === true ? 'bar' : 'lines');
  }

  update(step: number, fields: Record<string, number>): void {
    const done = step + 1;
    const elapsed = (Date.now() - this.start) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.opts.total - done) : 0;
    const info = Object.entries(fields)
      .map(([k, v]) => `${k} ${Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toPrecision(4)}`)
      .join(' · ');
    if (this.mode === 'bar') {
      const width = 24;
      const filled = Math.round((done / this.opts.total) * width);
      const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
      process.stderr.write(`\r${this.opts.label} ${bar} ${done}/${this.opts.total} · ${info} · ${elapsed.toFixed(0)} s (eta ${eta.toFixed(0)} s)  `);
      if (done >= this.opts.total) process.stderr.write('\n');
    } else if (done % this.opts.every === 0 || done === this.opts.total || step === 0) {
      log.info(`${this.opts.label} step ${done}/${this.opts.total} · ${info} · ${elapsed.toFixed(1)} s`);
    }
  }
}
