/**
 * Learning-rate schedules as pure functions of the step (nanoGPT style): the trainer asks for lr(step)
 * every step, so a resumed run gets exactly the rates of an uninterrupted one.
 *
 *   constant  linear warmup from 0 over `warmupSteps`, then `lr` (the paper / official code: 5e-5, 100 steps)
 *   cosine    the same warmup, then cosine decay to `lr · minRatio` at `totalSteps`
 */
export interface ScheduleConfig {
  kind: 'constant' | 'cosine';
  lr: number;
  warmupSteps: number;
  /** Cosine floor as a fraction of `lr`. */
  minRatio: number;
}

export const DEFAULT_SCHEDULE: Readonly<ScheduleConfig> = Object.freeze({ kind: 'constant', lr: 1e-3, warmupSteps: 20, minRatio: 0.1 });

/** The learning rate at `step` (0-based) of a run of `totalSteps` steps. */
export function learningRate(s: ScheduleConfig, step: number, totalSteps: number): number {
  if (step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  switch (s.kind) {
    case 'constant':
      return s.lr;
    case 'cosine': {
      const span = Math.max(1, totalSteps - s.warmupSteps);
      const progress = Math.min(1, (step - s.warmupSteps) / span);
      const floor = s.lr * s.minRatio;
      return floor + 0.5 * (s.lr - floor) * (1 + Math.cos(Math.PI * progress));
    }
  }
}
