import type { Request, Response } from 'express';
import type { Logger } from './core/logger';

export interface AuthUser {
  id: string;
  email: string;
  role: 'USER' | 'ADMIN';
}

/** What every resolver and permission rule receives. Authentication only; no authorization here. */
export interface Context {
  req: Request;
  res: Response;
  requestId: string;
  logger: Logger;
  /** The signed-in user, or null for an anonymous caller. */
  user: AuthUser | null;
}
