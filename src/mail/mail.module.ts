import type { FeatureModule } from '../core/module';
import { deleteMailOf } from './mail.service';
import { startMailWorker, type MailWorkerOptions } from './mail.worker';

export const mailModule: FeatureModule = {
  name: 'mail',
  // Finishes the message being sent at shutdown; the rest waits in the outbox for the next start.
  start: ({ config, logger, settings }) => startMailWorker(config, logger, settings.mail as MailWorkerOptions),
  userHooks: { deleteUserData: deleteMailOf },
};
