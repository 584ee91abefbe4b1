import { Field, ID, InputType } from 'type-graphql';
import { AuditEventType } from './audit-event-types';

@InputType('AuditEventFilter', { description: 'All given conditions must hold.' })
export class AuditEventFilter {
  @Field(() => ID, { nullable: true })
  userId?: string | null;

  @Field(() => AuditEventType, { nullable: true })
  type?: AuditEventType | null;
}
