import { z } from 'zod';
import { ConfigError, section } from './section';

/** The admin account created or promoted at start-up (src/auth/admin-bootstrap.ts). */
export const admin = section(
  {
    ADMIN_EMAIL: z.string().min(3).optional(),
    ADMIN_PASSWORD: z.string().min(1).optional(),
  },
  (v) => {
    if ((v.ADMIN_EMAIL === undefined) !== (v.ADMIN_PASSWORD === undefined)) {
      throw new ConfigError('ADMIN_EMAIL: ADMIN_EMAIL and ADMIN_PASSWORD must be set together');
    }
    return {
      admin: v.ADMIN_EMAIL && v.ADMIN_PASSWORD ? { email: v.ADMIN_EMAIL, password: v.ADMIN_PASSWORD } : undefined,
    };
  },
);
