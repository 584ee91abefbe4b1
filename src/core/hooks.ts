import type { Logger } from './logger';
import type { FeatureModule, Revocation, SecondFactorCheck } from './module';

/**
 * The hooks features plug into one another with, filled from the module list by the composition
 * root (src/app) before anything is served. A feature calls these instead of importing the
 * features that implement them, so the dependency points down.
 */
let installed: readonly FeatureModule[] = [];

export function installModules(modules: readonly FeatureModule[]): void {
  installed = modules;
}

/** Ends the user's standing credentials in every feature that keeps some (sessions, keys, links). */
export async function revokeCredentials(userId: string, revocation: Revocation): Promise<void> {
  await Promise.all(installed.map((m) => m.userHooks?.revokeCredentials?.(userId, revocation)));
}

/** Deletes a deleted user's data in every feature, in module order; answers how many documents went. */
export async function deleteUserData(userId: string, actorId: string, logger: Logger): Promise<number> {
  let removed = 0;
  for (const m of installed) removed += (await m.userHooks?.deleteUserData?.(userId, actorId, logger)) ?? 0;
  return removed;
}

/** Throws when a feature refuses the user's deletion (before anything is deleted). */
export async function assertUserDeletable(userId: string): Promise<void> {
  for (const m of installed) await m.userHooks?.assertDeletable?.(userId);
}

/** Deletes a deleted organization's data in every feature; answers how many documents went. */
export async function deleteOrganizationData(orgId: string, actorId: string): Promise<number> {
  let removed = 0;
  for (const m of installed) removed += (await m.organizationHooks?.deleteOrganizationData?.(orgId, actorId)) ?? 0;
  return removed;
}

/** Checks a second-factor code with the feature that offers one; null when none matched. */
export async function checkSecondFactor(
  ...args: Parameters<SecondFactorCheck>
): Promise<Awaited<ReturnType<SecondFactorCheck>>> {
  for (const m of installed) {
    const factor = await m.secondFactor?.(...args);
    if (factor) return factor;
  }
  return null;
}
