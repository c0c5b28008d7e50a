import { cpuWaitShare, mainThreadSchedule, processTree, readProcStat } from '../bench/load';

describe('bench: how long the service waited for a CPU', () => {
  const ms = 1e6;

  it('is the mean share of the window the busy processes spent ready but not running', () => {
    const before = new Map([
      [10, { runNs: 0, waitNs: 0 }],
      [11, { runNs: 0, waitNs: 0 }],
      [12, { runNs: 0, waitNs: 0 }],
    ]);
    const after = new Map([
      [10, { runNs: 700 * ms, waitNs: 300 * ms }], // a worker under load
      [11, { runNs: 600 * ms, waitNs: 100 * ms }], // another
      [12, { runNs: 5 * ms, waitNs: 90 * ms }], // the primary: idle, not counted
    ]);
    expect(cpuWaitShare(before, after, 1_000)).toBeCloseTo(0.2);
  });

  it('says nothing when no process was busy, or one appeared only at the end', () => {
    const before = new Map([[10, { runNs: 0, waitNs: 0 }]]);
    expect(cpuWaitShare(before, new Map([[10, { runNs: 2 * ms, waitNs: 1 * ms }]]), 1_000)).toBeUndefined();
    expect(cpuWaitShare(before, new Map([[20, { runNs: 900 * ms, waitNs: 100 * ms }]]), 1_000)).toBeUndefined();
  });

  (process.platform === 'linux' ? it : it.skip)('reads a process main thread from /proc', () => {
    // The main thread's own CPU, from the kernel's other file for it: the whole process's
    // CPU (process.cpuUsage) also counts GC and compiler threads, and under a loaded jest
    // run those took two thirds of it.
    const mainThreadCpuMs = () => readProcStat(`/proc/${process.pid}/task/${process.pid}/stat`).cpuMs;
    const started = mainThreadSchedule(processTree(process.pid)).get(process.pid);
    const cpuMsBefore = mainThreadCpuMs();
    const giveUpAt = Date.now() + 10_000;
    while (mainThreadCpuMs() - cpuMsBefore < 50 && Date.now() < giveUpAt);
    const spunMs = mainThreadCpuMs() - cpuMsBefore;
    const ended = mainThreadSchedule(processTree(process.pid)).get(process.pid);
    expect(spunMs).toBeGreaterThanOrEqual(50);
    expect(started).toBeDefined();
    // The stat file counts in 10 ms ticks, schedstat exactly: allow it two ticks short.
    expect(ended!.runNs - started!.runNs).toBeGreaterThanOrEqual((spunMs - 20) * ms);
  });
});
