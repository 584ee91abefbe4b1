import { Arg, FieldResolver, Int, Query, Resolver, Root } from 'type-graphql';
import { AuditEvent } from './audit.model';
import { listAuditEvents } from './audit.service';
import type { Connection } from '../core/pagination';
import { AuditEventFilter } from './audit.inputs';
import { AuditDetail, AuditEventConnection } from './audit.types';

@Resolver(() => AuditEvent)
export class AuditResolver {
  @Query(() => AuditEventConnection, { description: 'ADMIN: security events, newest first; keyset-paged.' })
  auditEvents(
    @Arg('filter', () => AuditEventFilter, { nullable: true }) filter: AuditEventFilter | null,
    @Arg('first', () => Int, { nullable: true, description: '20 when omitted, at most 100.' }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
  ): Promise<Connection<AuditEvent>> {
    return listAuditEvents({ filter, first, after });
  }

  @FieldResolver(() => [AuditDetail], { description: 'Facts recorded with the event, in the order given.' })
  details(@Root() event: AuditEvent): AuditDetail[] {
    const details: unknown = event.details;
    if (details === null || typeof details !== 'object') return [];
    return Object.entries(details).map(([key, value]) => ({
      key,
      value: value === null || value === undefined ? null : String(value),
    }));
  }
}
