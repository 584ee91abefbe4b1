import { publishEvent } from '../infra/events';

/** The bus channel on which ended memberships are announced (src/realtime ends their streams). */
export const MEMBERSHIP_CHANNEL = 'memberships';

export interface MembershipEndedMessage {
  orgId: string;
  /** The member whose membership ended; null when the whole organization went. */
  userId: string | null;
}

/** Announces, on every instance, that a membership (or, userId null, an organization) ended. */
export function membershipEnded(orgId: string, userId: string | null): void {
  const message: MembershipEndedMessage = { orgId, userId };
  publishEvent(MEMBERSHIP_CHANNEL, message);
}

export function isMembershipEnded(value: unknown): value is MembershipEndedMessage {
  const m = value as Partial<MembershipEndedMessage> | null;
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof m.orgId === 'string' &&
    (m.userId === null || typeof m.userId === 'string')
  );
}
