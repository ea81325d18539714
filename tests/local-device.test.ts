/** One GPU per MPI rank: CUDA_VISIBLE_DEVICES from the launcher's local rank (mpi/local-device.ts). */
import { describe, expect, it } from 'vitest';
import { localRank, pinLocalDevice, visibleDeviceFor } from '../src/runtime/collectives/mpi/local-device.js';

describe('the GPU each MPI rank sees', () => {
  it('is its local rank under Open MPI and Slurm', () => {
    expect(visibleDeviceFor({ OMPI_COMM_WORLD_LOCAL_RANK: '3' })).toBe('3');
    expect(visibleDeviceFor({ SLURM_LOCALID: '1' })).toBe('1');
    expect(localRank({ OMPI_COMM_WORLD_LOCAL_RANK: 'x' })).toBeUndefined();
  });
  it("indexes a list the user gave, and leaves the variable alone outside a launcher", () => {
    expect(visibleDeviceFor({ OMPI_COMM_WORLD_LOCAL_RANK: '1', CUDA_VISIBLE_DEVICES: '4, 5,6,7' })).toBe('5');
    expect(visibleDeviceFor({ CUDA_VISIBLE_DEVICES: '2,3' })).toBeUndefined();
    const env: NodeJS.ProcessEnv = { OMPI_COMM_WORLD_LOCAL_RANK: '2' };
    expect(pinLocalDevice(env)).toBe('2');
    expect(env.CUDA_VISIBLE_DEVICES).toBe('2');
  });
});
