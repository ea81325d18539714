/**
 * Planning threads started ahead of time (src/planner/plan-threads.ts) for the command
 * lines that run a pipeline search (src/cli/prewarm.ts), taken by the search, and the
 * ones nobody takes terminated.
 */
import { describe, expect, it } from 'vitest';
import { searchesPipeline } from '../src/cli/prewarm.js';
import { dropPlanThreads, prewarmPlanThreads, takePlanThread, waitingPlanThreads } from '../src/planner/plan-threads.js';

describe('planning threads started ahead of time', () => {
  it('are started for compile and compare of a model on a cluster file, unless an option keeps the plan on one mesh', () => {
    const c = ['compile', 'm.onnx', '--cluster', 'c.yaml'];
    expect(searchesPipeline(c)).toBe(true);
    expect(searchesPipeline(['compare', 'm.onnx', '--cluster=c.yaml'])).toBe(true);
    expect(searchesPipeline([...c, '--strategy', 'pipeline'])).toBe(true);
    expect(searchesPipeline([...c, '--strategy=auto'])).toBe(true);
    expect(searchesPipeline([...c, '--strategy', 'dp=2,tp=2,pp=2'])).toBe(true);
    expect(searchesPipeline([...c, '--strategy', 'pp=12,dp=1,tp=1'])).toBe(true);
    for (const one of [['--strategy', 'dp=4,tp=2,pp=1'], ['--strategy', 'megatron'], ['--mesh', '2x2'], ['--mesh=4'], ['--pin', 'p.json'], ['--mode', 'infer'], ['--mode=infer'], ['--print-ir-after', 'autodiff'], ['--help'], ['-h']]) {
      expect(searchesPipeline([...c, ...one])).toBe(false);
    }
    // The bundled example (no model, no cluster) is planned on one host.
    expect(searchesPipeline(['compile'])).toBe(false);
    expect(searchesPipeline(['run', 'x.autopar'])).toBe(false);
    expect(searchesPipeline([])).toBe(false);
  });

  it('are handed out once each, then new ones; those left are terminated', async () => {
    dropPlanThreads();
    prewarmPlanThreads(2);
    expect(waitingPlanThreads()).toBe(2);
    const a = takePlanThread();
    expect(waitingPlanThreads()).toBe(1);
    const b = takePlanThread();
    expect(waitingPlanThreads()).toBe(0);
    // None waiting: a fresh one.
    const c = takePlanThread();
    expect(new Set([a, b, c]).size).toBe(3);
    prewarmPlanThreads(2);
    expect(waitingPlanThreads()).toBe(2);
    dropPlanThreads();
    expect(waitingPlanThreads()).toBe(0);
    // One thread means planning here: none started.
    prewarmPlanThreads(1);
    expect(waitingPlanThreads()).toBe(0);
    // A taken thread answers: it loaded the planner (an unknown message is an error reply).
    const reply = new Promise<unknown>((resolve) => a.once('message', resolve));
    a.postMessage({ graph: null });
    expect(await reply).toMatchObject({ error: { code: 'E_INTERNAL' } });
    await Promise.all([a, b, c].map((w) => w.terminate()));
  }, 60_000);
});
