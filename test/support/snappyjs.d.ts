/** The parts of `snappyjs` (no bundled types) that tests and benchmarks use. */
declare module 'snappyjs' {
  export function compress(input: Uint8Array): Uint8Array;
  export function uncompress(input: Uint8Array): Uint8Array;
  const snappyjs: { compress: typeof compress; uncompress: typeof uncompress };
  export default snappyjs;
}
