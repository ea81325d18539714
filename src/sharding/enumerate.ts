/**
 * Every legal sharding of a tensor on a mesh: each axis unused, partial, or splitting one
 * dimension at some position in its major-to-minor list, with even splits only. The
 * resharding graph's nodes; also what tests walk. On a mesh of k axes and a tensor of
 * rank r there are at most (r + 2)^k · k! of them (a few hundred for k = 3).
 */
import type { MeshShape } from './mesh.js';
import type { ShardingSpec } from './spec.js';

export function legalSpecs(globalShape: readonly number[], mesh: MeshShape): ShardingSpec[] {
  const rank = globalShape.length;
  const out: ShardingSpec[] = [];
  const dims: string[][] = Array.from({ length: rank }, () => []);
  const factors: number[] = Array.from({ length: rank }, () => 1);
  const partial: string[] = [];
  const visit = (i: number): void => {
    const axis = mesh.axes[i];
    if (!axis) {
      out.push({ dims: dims.map((d) => [...d]), partial: [...partial] });
      return;
    }
    visit(i + 1);
    partial.push(axis.name);
    visit(i + 1);
    partial.pop();
    for (let d = 0; d < rank; d++) {
      const f = (factors[d] ?? 1) * axis.size;
      // Prune: a factor that does not divide the dimension never will once more axes join.
      if ((globalShape[d] ?? 0) % f !== 0) continue;
      const list = dims[d];
      if (!list) continue;
      factors[d] = f;
      for (let pos = 0; pos <= list.length; pos++) {
        list.splice(pos, 0, axis.name);
        visit(i + 1);
        list.splice(pos, 1);
      }
      factors[d] = f / axis.size;
    }
  };
  visit(0);
  return out;
}
