/**
 * What a cluster description means once validated: devices with their figures, the
 * links between them, in SI units (bytes, bytes/s, seconds, FLOP/s). Readonly data only;
 * the logical-mesh and cost-model code derives everything else from it.
 */

/** Number formats a device computes in; `tf32` is the tensor-core mode for float32 matmuls. */
export const DTYPES = ['float64', 'float32', 'tf32', 'float16', 'bfloat16'] as const;
export type Dtype = (typeof DTYPES)[number];

/** Fraction of the datasheet peak that real kernels reach (see docs/cluster.md for sources). */
export interface Efficiency {
  /** Large GEMMs, against the tensor-core peak of the dtype. */
  readonly matmul: number;
  /** Convolutions (implicit GEMM), against the same peak. */
  readonly conv: number;
  /** Streaming kernels, against the datasheet memory bandwidth. */
  readonly memory: number;
}

export interface DeviceType {
  readonly name: string;
  /** Dense (no sparsity) peak per dtype; float32 is always present and is the fallback. */
  readonly peakFlops: Readonly<Partial<Record<Dtype, number>>> & { readonly float32: number };
  readonly memoryBytes: number;
  /** Bytes/s of device memory (HBM). */
  readonly memoryBandwidth: number;
  readonly efficiency: Efficiency;
  /** Where the figures come from, for the docs and `autopar cluster`. */
  readonly source?: string;
}

/** One direction of a link: bandwidth in bytes/s, latency in seconds per message. */
export interface Link {
  readonly bandwidth: number;
  readonly latency: number;
}

/** Hosts that share a device type and an intra-host link. */
export interface HostGroup {
  readonly index: number;
  readonly name: string;
  readonly hosts: number;
  readonly devicesPerHost: number;
  readonly device: DeviceType;
  /** Per device, per direction (NVLink through a switch: every device at once). */
  readonly intraHost: Link;
  /** Id of the first host of this group. */
  readonly firstHost: number;
}

export interface Host {
  readonly id: number;
  readonly group: number;
  /** Device ids on this host, in order. */
  readonly devices: readonly number[];
}

export interface Device {
  readonly id: number;
  readonly host: number;
  /** Index within its host. */
  readonly local: number;
  readonly group: number;
}

export interface Cluster {
  /** The file it came from (or the name given to parseCluster), for messages. */
  readonly file: string;
  readonly name: string;
  readonly groups: readonly HostGroup[];
  readonly hosts: readonly Host[];
  /** Host-major order: device id = position in this list. */
  readonly devices: readonly Device[];
  /** Per host, per direction; undefined only for a single-host cluster. */
  readonly interHost: Link | undefined;
}
