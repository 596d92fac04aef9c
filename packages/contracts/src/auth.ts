import { z } from 'zod';
import { IdSchema, TimestampSchema } from './common.ts';

export const RoleSchema = z.enum(['admin', 'user']);
export type Role = z.infer<typeof RoleSchema>;

export const EmailSchema = z
  .email()
  .max(254)
  .transform((email) => email.trim().toLowerCase())
  .meta({ example: 'ada@example.com' });

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 128;
export const PasswordSchema = z
  .string()
  .min(PASSWORD_MIN, `Password must be at least ${PASSWORD_MIN} characters`)
  .max(PASSWORD_MAX, `Password must be at most ${PASSWORD_MAX} characters`)
  .meta({ example: 'correct horse battery' });

export const UsernameSchema = z
  .string()
  .trim()
  .min(3)
  .max(32)
  .regex(/^[A-Za-z0-9_.-]+$/, 'Letters, digits, dot, dash and underscore only')
  .meta({ example: 'ada' });

/**
 * True when a password is mostly the account's own username or email (or its name part): the
 * first guesses of anyone who knows whose account it is, e.g. `keeper12345` for the user `keeper`.
 * Mentioning the name in a longer passphrase is fine.
 */
export function passwordMentionsAccount(password: string, account: { email: string; username: string }): boolean {
  const email = account.email.trim().toLowerCase();
  const names = [email, email.split('@')[0] ?? '', account.username.trim().toLowerCase()].filter(
    (name) => name.length >= 3,
  );
  let rest = password.toLowerCase();
  for (const name of names) rest = rest.replaceAll(name, '');
  return rest.length < password.length && rest.length * 2 < password.length;
}

/** Registration always makes a plain user: a `role` (or any other unknown key) is refused with 400. */
export const RegisterInputSchema = z
  .strictObject({
    username: UsernameSchema,
    email: EmailSchema,
    password: PasswordSchema,
  })
  .superRefine((input, ctx) => {
    if (passwordMentionsAccount(input.password, input))
      ctx.addIssue({
        code: 'custom',
        path: ['password'],
        message: 'Password must not be mostly your username or email address',
      });
  });
export type RegisterInput = z.infer<typeof RegisterInputSchema>;

export const LoginInputSchema = z.strictObject({
  email: EmailSchema,
  password: z.string().min(1).max(PASSWORD_MAX).meta({ example: 'correct horse battery' }),
});
export type LoginInput = z.infer<typeof LoginInputSchema>;

export const RefreshInputSchema = z.strictObject({
  refreshToken: z.string().min(1).max(512).meta({
    description: 'The refreshToken of the last sign-in or refresh.',
    example: 'rt_3q2-gJx7R0mZ8vQ4sWc1b9XyLkPfTnUaHdEe6oIj5s',
  }),
});
export type RefreshInput = z.infer<typeof RefreshInputSchema>;

export const UserSchema = z.object({
  id: IdSchema,
  email: z.string(),
  username: z.string(),
  role: RoleSchema,
  createdAt: TimestampSchema,
});
export type User = z.infer<typeof UserSchema>;

export const TokenPairSchema = z.object({
  tokenType: z.literal('Bearer'),
  accessToken: z.string(),
  expiresIn: z.number().int().meta({ description: 'Access token lifetime in seconds' }),
  refreshToken: z.string(),
  refreshExpiresAt: TimestampSchema,
});
export type TokenPair = z.infer<typeof TokenPairSchema>;

export const SessionSchema = TokenPairSchema.extend({ user: UserSchema });
export type Session = z.infer<typeof SessionSchema>;

export const LogoutOutputSchema = z.object({ ok: z.literal(true) });
