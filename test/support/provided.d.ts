// Types for values provided by test/global-setup.ts and read in tests with inject().
export {};

declare module 'vitest' {
  export interface ProvidedContext {
    /** redis://127.0.0.1:PORT of the shared standalone server. */
    redisUrl: string;
    /** "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3" of the shared 3-node cluster. */
    redisClusterSeeds: string;
  }
}
