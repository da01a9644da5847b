// Bytes allocated by site, from V8's sampling heap profiler with the objects collected since
// included (so short-lived garbage counts too): for finding what the garbage collector has to
// deal with. Used by bench/support/detect-loop.ts (--alloc) and the detect benchmark's worker
// (BENCH_ALLOC_PROF=<dir>).
import { Session } from 'node:inspector/promises';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

export class AllocationSampler {
  readonly #session = new Session();

  /** `survivors`: only objects that lived through a scavenge (those it copies or promotes) are counted. */
  async start(survivors = false): Promise<void> {
    this.#session.connect();
    await this.#session.post('HeapProfiler.startSampling', { samplingInterval: 2048, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: !survivors } as never);
  }

  /** Stops sampling: the bytes allocated per `unit` (per hit, say) in all and by site (function file ← caller), the `top` largest. */
  async stop(units: number, unitName: string, top = 25): Promise<string> {
    const { profile } = (await this.#session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };
    this.#session.disconnect();
    const bySite = new Map<string, number>();
    let total = 0;
    const walk = (node: ProfileNode, caller: string): void => {
      const name = node.callFrame.functionName || '(anonymous)';
      const site = `${name} ${node.callFrame.url.replace(/^.*?\/(node_modules|src|bench)\//, '$1/')} ← ${caller}`;
      if (node.selfSize > 0) bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
      total += node.selfSize;
      for (const child of node.children) walk(child, name);
    };
    walk(profile.head, '');
    const lines = [`allocated ${Math.round(total / units)} B per ${unitName}; by site (function file ← caller):`];
    for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${String(Math.round(bytes / units)).padStart(6)} B  ${site}`);
    return lines.join('\n');
  }
}
