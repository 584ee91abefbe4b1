import { z } from 'zod';

/** updateItem takes null for the clearable fields only; name and quantity always have a value. */
const notNull = { error: (issue: { input?: unknown }) => (issue.input === null ? 'cannot be null' : undefined) };

const name = z.string(notNull).trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const description = z.string().max(5000, 'must be at most 5000 characters').nullable();
const category = z.string().trim().max(100, 'must be at most 100 characters').nullable();
const tag = z.string().trim().min(1, 'must not be empty').max(50, 'must be at most 50 characters');
export const tags = z
  .array(tag)
  .max(20, 'must have at most 20 tags')
  .transform((list) => [...new Set(list.map((t) => t.toLowerCase()))]);
const price = z.number().finite('must be a finite number').min(0, 'must be >= 0').nullable();
const quantity = z.number(notNull).int('must be an integer').min(0, 'must be >= 0');

export const createSchema = z.object({
  name,
  description: description.optional(),
  category: category.optional(),
  tags: tags.nullable().optional(),
  price: price.optional(),
  quantity: quantity.nullable().optional(),
});

export const updateSchema = z.object({
  name: name.optional(),
  description: description.optional(),
  category: category.optional(),
  tags: tags.nullable().optional(),
  price: price.optional(),
  quantity: quantity.optional(),
});

/** Empty strings mean "none" for the optional text fields. */
export const orNull = (value: string | null | undefined) => (value === '' ? null : value);
