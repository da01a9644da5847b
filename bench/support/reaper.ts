// For a process the harness cannot guard from the inside (redis-server): a tiny `sh` that holds a
// pipe from the harness and, when that pipe ends, SIGKILLs the process and removes its data
// directory, so that even a SIGKILLed harness leaves nothing behind. Stop the reaper (by its pid,
// like every tracked process) once the process has been stopped normally, so that the pid is
// never signalled after it was reused.
import { spawnTracked, type Tracked } from './processes.js';

export function reapWithHarness(pid: number, dir?: string): Tracked {
  const script = 'while read -r _; do :; done; kill -9 "$0" 2>/dev/null; sleep 0.2; [ -n "$1" ] && rm -rf -- "$1"';
  return spawnTracked('sh', ['-c', script, String(pid), dir ?? ''], { stdio: ['pipe', 'ignore', 'ignore'] });
}
