import { Field, ObjectType } from 'type-graphql';
import { connectionTypes } from '../core/pagination';
import { AuditEvent } from './audit.model';

@ObjectType('AuditDetail', { description: 'One fact recorded with an event, e.g. reason or attempts.' })
export class AuditDetail {
  @Field()
  key!: string;

  @Field(() => String, { nullable: true, description: 'Numbers and booleans are given as text.' })
  value!: string | null;
}

export const AuditEventConnection = connectionTypes(AuditEvent, 'AuditEvent', { totalCount: false });
