import { connectionTypes } from '../core/pagination';
import { Membership } from './org.model';

/** `MembershipConnection` and `MembershipEdge`: an organization's members, keyset-paged. */
export const MembershipConnection = connectionTypes(Membership, 'Membership');
