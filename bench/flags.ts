/** Command-line flags of the benchmarks: `--name value` pairs and bare switches. */
export interface Flags {
  /** The value after `--name`, or `dflt`. */
  value(name: string, dflt: string): string;
  /** Whether the switch `--name` is present. */
  has(name: string): boolean;
}

export function flags(args: readonly string[] = process.argv.slice(2)): Flags {
  return {
    value(name, dflt) {
      const i = args.indexOf(name);
      return i >= 0 ? (args[i + 1] ?? dflt) : dflt;
    },
    has: (name) => args.includes(name),
  };
}
