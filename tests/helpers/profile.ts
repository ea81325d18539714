/** Synthetic calibration profiles for tests: only the samples and collectives vary. */
import { type CollectiveProfile, type Profile, PROFILE_VERSION } from '../../cost-models/profile.js';

export function syntheticProfile(samples: Profile['samples'], summary: Profile['summary'], collectives: CollectiveProfile | null = null): Profile {
  return {
    version: PROFILE_VERSION,
    createdAt: '2026-01-01T00:00:00.000Z',
    backend: 'synthetic',
    clock: 'cpu',
    machine: { platform: 'linux', arch: 'x64', cpus: 2, cpuModel: 'test', totalMemoryBytes: 8e9, node: 'v0' },
    dtype: 'float32',
    samples,
    summary,
    collectives,
  };
}
