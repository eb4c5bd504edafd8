/**
 * Shared by the benchmarks: the median, and a kernel profile of one step (tf.profile) as the kernel time per
 * kernel name, each call's minimum over several profiled steps (the step runs the same kernel sequence every
 * time), which discounts time lost to other processes on a shared machine.
 */
import * as tf from '@tensorflow/tfjs';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export interface KernelShare {
  kernel: string;
  ms: number;
  calls: number;
}

/**
 * Kernel ms per step by kernel name, largest first; `step` may return a tensor (disposed) or a promise.
 * tf.profile also lists the scopes of tf.customGrad functions (lib/model/layers' fused norms, softmax and
 * gates), whose time is that of the kernels inside them: names registered as no kernel are left out, so the
 * shares add up to the kernel time once.
 */
export async function kernelProfile(step: () => unknown, runs = 5): Promise<KernelShare[]> {
  const perCall: { name: string; ms: number }[] = [];
  for (let r = 0; r < runs; r++) {
    const info = await tf.profile(async () => {
      const out = await step();
      if (out instanceof tf.Tensor) out.dispose();
    });
    const backend = tf.getBackend();
    info.kernels
      .filter((k) => tf.getKernel(k.name, backend) !== undefined)
      .forEach((k, i) => {
        const ms = k.kernelTimeMs as number;
        const prev = perCall[i];
        perCall[i] = prev === undefined || prev.name !== k.name ? { name: k.name, ms } : { name: k.name, ms: Math.min(prev.ms, ms) };
      });
  }
  const byName = new Map<string, KernelShare>();
  for (const { name, ms } of perCall) {
    const e = byName.get(name) ?? { kernel: name, ms: 0, calls: 0 };
    e.ms += ms;
    e.calls++;
    byName.set(name, e);
  }
  return [...byName.values()].sort((a, b) => b.ms - a.ms).map((e) => ({ ...e, ms: Math.round(e.ms * 100) / 100 }));
}
