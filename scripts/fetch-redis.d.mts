/** Types for scripts/fetch-redis.mjs, which the jest global setup imports. */
export declare const REDIS_CACHE_DIR: string;

export interface EnsureRedisServerOptions {
  /** Where fetched copies live; .cache/redis by default. */
  cacheDir?: string;
  /** Re-read Debian's indexes even when a fetched copy exists. */
  refresh?: boolean;
  /** Progress lines; stderr by default. */
  log?: (message: string) => void;
}

/** The path of a usable redis-server: $REDIS_SERVER, PATH, the cache, else Debian's packages. */
export declare function ensureRedisServer(options?: EnsureRedisServerOptions): Promise<string>;

/** dpkg's version order: negative, zero or positive. */
export declare function compareDebianVersions(a: string, b: string): number;
