// Preloaded (`node --import tsx --import bench/workers/parent-guard.ts …`) into a process the
// benchmarks start unchanged, such as `rebound start`: when its stdin (a pipe from the harness)
// ends, the harness is gone, even by SIGKILL, so the process gets SIGTERM and drains as usual
// instead of being left behind.
process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
process.stdin.resume();
