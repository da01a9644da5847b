// The machine a run was measured on, for the JSON output and docs/benchmarks.md: absolute
// figures mean little without it.
import { execFile } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  redis: string;
  /** 1-minute load average when the run started: on a shared machine, the context of every figure. */
  loadAverage: number;
}

export async function describeMachine(): Promise<Machine> {
  const list = cpus();
  let redis = 'unknown';
  try {
    const { stdout } = await execFileP('redis-server', ['--version'], { timeout: 10_000 });
    redis = /v=(\S+)/.exec(stdout)?.[1] ?? stdout.trim();
  } catch {
    /* no redis-server on PATH: the scenarios that need it will say so */
  }
  return {
    cores: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    redis,
    loadAverage: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

export function machineLine(m: Machine): string {
  return `${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Node ${m.node}, Redis ${m.redis}; load average ${m.loadAverage} at the start`;
}
