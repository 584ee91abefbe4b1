import { Field, Int, ObjectType, type ClassType } from 'type-graphql';
import { BadUserInputError } from './errors';
import { OBJECT_ID_HEX } from './validation';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

@ObjectType('PageInfo', { description: 'Relay connection page information.' })
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field()
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true })
  startCursor!: string | null;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw new BadUserInputError('first', `first must be between 0 and ${MAX_PAGE_SIZE}`);
  }
  return first;
}

/** Cursors are opaque to clients: base64url of a small JSON array of the sort key values. */
export function encodeCursor(values: unknown[]): string {
  return Buffer.from(JSON.stringify(values), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, check: (values: unknown[]) => boolean): unknown[] {
  const invalid = () => new BadUserInputError('after', 'after is not a valid cursor');
  if (cursor.length > 512 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(values) || !check(values)) throw invalid();
  return values;
}

/** The largest time a Date can hold, in epoch milliseconds. */
const MAX_TIME = 8.64e15;

/** A document's cursor on a (time, _id) order: the time in epoch milliseconds, then the id. */
export function encodeTimeCursor(time: Date, id: unknown): string {
  return encodeCursor([time.getTime(), String(id)]);
}

/** The (time, id) of a cursor made by encodeTimeCursor; BAD_USER_INPUT for anything else. */
export function decodeTimeCursor(cursor: string): { time: Date; id: string } {
  const [time, id] = decodeCursor(
    cursor,
    (v) =>
      v.length === 2 &&
      Number.isSafeInteger(v[0]) &&
      Math.abs(v[0] as number) <= MAX_TIME &&
      typeof v[1] === 'string' &&
      OBJECT_ID_HEX.test(v[1]),
  ) as [number, string];
  return { time: new Date(time), id };
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
  totalCount: number;
}

/**
 * The GraphQL types of a keyset-paged list of `node` (Relay's shape): `<name>Edge` and
 * `<name>Connection`, the latter with `totalCount` unless `totalCount: false` (the audit log,
 * where counting every match would be a scan).
 */
export function connectionTypes<T extends object>(
  node: ClassType<T>,
  name: string,
  { totalCount = true }: { totalCount?: boolean } = {},
): ClassType<Connection<T>> {
  @ObjectType(`${name}Edge`)
  class EdgeType {
    @Field()
    cursor!: string;

    @Field(() => node)
    node!: T;
  }

  if (!totalCount) {
    @ObjectType(`${name}Connection`)
    class Uncounted {
      @Field(() => [EdgeType])
      edges!: EdgeType[];

      @Field(() => PageInfo)
      pageInfo!: PageInfo;
    }
    return Uncounted as ClassType<Connection<T>>;
  }

  @ObjectType(`${name}Connection`)
  class Counted {
    @Field(() => [EdgeType])
    edges!: EdgeType[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;

    @Field(() => Int)
    totalCount!: number;
  }
  return Counted;
}

/** Builds a connection from `limit + 1` fetched rows (the extra row only says there is more). */
export function toConnection<T>(
  rows: T[],
  limit: number,
  totalCount: number,
  hasPrevious: boolean,
  cursorOf: (row: T) => string,
): Connection<T> {
  const page = rows.slice(0, limit);
  const edges = page.map((node) => ({ cursor: cursorOf(node), node }));
  return {
    edges,
    totalCount,
    pageInfo: {
      hasNextPage: rows.length > limit,
      hasPreviousPage: hasPrevious,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
