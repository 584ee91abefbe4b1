import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { PageInfo } from '../core/pagination';
import { AuditEvent, AuditEventType } from './audit.model';

@ObjectType('AuditDetail', { description: 'One fact recorded with an event, e.g. reason or attempts.' })
export class AuditDetail {
  @Field()
  key!: string;

  @Field(() => String, { nullable: true, description: 'Numbers and booleans are given as text.' })
  value!: string | null;
}

@ObjectType('AuditEventEdge')
export class AuditEventEdge {
  @Field()
  cursor!: string;

  @Field(() => AuditEvent)
  node!: AuditEvent;
}

@ObjectType('AuditEventConnection')
export class AuditEventConnection {
  @Field(() => [AuditEventEdge])
  edges!: AuditEventEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@InputType('AuditEventFilter', { description: 'All given conditions must hold.' })
export class AuditEventFilter {
  @Field(() => ID, { nullable: true })
  userId?: string | null;

  @Field(() => AuditEventType, { nullable: true })
  type?: AuditEventType | null;
}
