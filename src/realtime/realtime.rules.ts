import { allow, isAuthenticated } from '../http/access.rules';

/** The same rule as the `items` query: whoever may list items may watch them change. */
export const realtimePermissions = {
  Subscription: {
    itemEvents: isAuthenticated,
  },
  // Reachable only through itemEvents.
  ItemEvent: allow,
};
