/** JSON that keeps Float32Array and Int32Array (results of MPI ranks travel through files). */

export function encode(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Float32Array) return { $typed: 'float32', data: Array.from(v) };
    if (v instanceof Int32Array) return { $typed: 'int32', data: Array.from(v) };
    return v;
  });
}

export function decode(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null && '$typed' in v && 'data' in v && Array.isArray(v.data)) {
      const data: number[] = v.data.map(Number);
      return v.$typed === 'int32' ? Int32Array.from(data) : Float32Array.from(data);
    }
    return v;
  }) as unknown;
}
