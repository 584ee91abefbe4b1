import { allow, isAuthenticated } from '../permissions/rules';

/** The same rule as the `items` query: whoever may list items may watch them change. */
export const realtimePermissions = {
  Subscription: {
    itemEvents: isAuthenticated,
  },
  // Reachable only through itemEvents.
  ItemEvent: allow,
};
