import { isValidObjectId } from 'mongoose';
import { User, UserModel } from './user.model';

export async function findById(id: string): Promise<User | null> {
  if (!isValidObjectId(id)) return null;
  return UserModel.findById(id).lean<User>().exec();
}
