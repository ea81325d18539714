/**
 * A benchmark script run again as a child process (`SCRIPT --child ARGS`) that prints one
 * JSON line per result, killed at a cap so that one slow case does not stall a run. Its
 * peak resident memory is sampled meanwhile (VmHWM, every 0.5 s), for cases cut at the cap.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface CappedRun<Line> {
  readonly lines: Line[];
  readonly seconds: number;
  readonly capped: boolean;
  readonly sampledPeakRssBytes: number;
  readonly stderr: string;
  readonly exitCode: number | null;
}

function vmHwm(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export function runCappedChild<Line>(script: string, args: readonly string[], capSeconds: number, onLine?: (line: Line) => void): Promise<CappedRun<Line>> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [script, '--child', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Line[] = [];
    let out = '';
    let err = '';
    let peak = 0;
    let capped = false;
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const text = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (text.trim() === '') continue;
        // The child is this same script: its lines are the Line it declares.
        const line = JSON.parse(text) as Line;
        lines.push(line);
        onLine?.(line);
      }
    });
    p.stderr.on('data', (d: Buffer) => void (err += d.toString()));
    const sampler = setInterval(() => {
      if (p.pid !== undefined) peak = Math.max(peak, vmHwm(p.pid));
    }, 500);
    const timer = setTimeout(() => {
      capped = true;
      if (p.pid !== undefined) peak = Math.max(peak, vmHwm(p.pid));
      p.kill('SIGKILL');
    }, capSeconds * 1000);
    p.on('close', (code) => {
      clearInterval(sampler);
      clearTimeout(timer);
      resolve({ lines, seconds: (performance.now() - t0) / 1000, capped, sampledPeakRssBytes: peak, stderr: err.slice(-2000), exitCode: code });
    });
  });
}
