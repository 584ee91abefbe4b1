import { int, section } from './section';

/** Limits on GraphQL documents, request rates and item counts. */
export const limits = section(
  {
    MAX_DEPTH: int(1, 100).default(10),
    MAX_ALIASES: int(1, 1000).default(15),
    MAX_DIRECTIVES: int(1, 1000).default(50),
    MAX_TOKENS: int(10, 100_000).default(1000),
    MAX_COST: int(1, 1_000_000).default(5000),
    RATE_LIMIT_WINDOW_SECONDS: int(1, 86_400).default(60),
    RATE_LIMIT_PER_IP: int(1, 1_000_000_000).default(30),
    RATE_LIMIT_PER_ACCOUNT: int(1, 1_000_000_000).default(10),
    READ_RATE_LIMIT_PER_USER: int(1, 1_000_000_000).default(1200),
    WRITE_RATE_LIMIT_PER_USER: int(1, 1_000_000_000).default(120),
    MAX_ITEMS_PER_USER: int(1, 1_000_000_000).default(10_000),
  },
  (v) => ({
    limits: {
      maxDepth: v.MAX_DEPTH,
      maxAliases: v.MAX_ALIASES,
      maxDirectives: v.MAX_DIRECTIVES,
      maxTokens: v.MAX_TOKENS,
      maxCost: v.MAX_COST,
    },
    rateLimit: {
      windowSeconds: v.RATE_LIMIT_WINDOW_SECONDS,
      perIp: v.RATE_LIMIT_PER_IP,
      perAccount: v.RATE_LIMIT_PER_ACCOUNT,
      /** Query operations per signed-in user (an API key's count for its owner) per window. */
      readsPerUser: v.READ_RATE_LIMIT_PER_USER,
    },
    /** Per-user limits on item writes: writes per rate-limit window, and items owned. */
    itemLimits: { writesPerWindow: v.WRITE_RATE_LIMIT_PER_USER, maxPerUser: v.MAX_ITEMS_PER_USER },
  }),
);
