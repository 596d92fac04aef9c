import { ErrorBodySchema } from '@boxoffice/contracts';
import { generateOpenApiDocument } from 'trpc-to-openapi';
import { z } from 'zod';
import type { ProcedureMeta } from './trpc/init.ts';
import { appRouter } from './trpc/root.ts';

type Operation = { operationId?: string; security?: unknown; responses?: Record<string, unknown> };

let cached: ReturnType<typeof generateOpenApiDocument> | undefined;

/**
 * OpenAPI 3.1, generated from the same procedures and zod contracts tRPC serves, then corrected
 * where the generator guesses: error bodies have our shape, and procedures anyone may call carry
 * no security requirement.
 */
export function openApiDocument(baseUrl: string) {
  if (cached) return cached;
  const doc = generateOpenApiDocument(appRouter, {
    title: 'Boxoffice API',
    version: '0.1.0',
    description:
      'Event ticket booking. Errors are `{ "error": { "code", "message", "details" } }` with a machine-readable ' +
      '`code` (e.g. `SOLD_OUT`, `HOLD_ALREADY_OPEN`, `VALIDATION_FAILED` with `details.issues[].path`). ' +
      'Authenticate with `Authorization: Bearer <accessToken>` from `POST /api/auth/login`.',
    baseUrl: `${baseUrl}/api`,
    securitySchemes: { Authorization: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
  });
  const errorSchema = z.toJSONSchema(ErrorBodySchema, { target: 'openapi-3.0' }) as Record<string, unknown>;
  const schemas = (doc.components?.schemas ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(schemas)) if (name.startsWith('error.')) schemas[name] = errorSchema;

  const access = new Map(
    Object.entries(appRouter._def.procedures).map(([path, procedure]) => [
      path.replaceAll('.', '-'),
      (procedure as unknown as { _def: { meta?: ProcedureMeta } })._def.meta?.access,
    ]),
  );
  for (const item of Object.values(doc.paths ?? {})) {
    for (const operation of Object.values(item as Record<string, Operation>)) {
      const who = operation.operationId ? access.get(operation.operationId) : undefined;
      if (who === 'public' || who === 'viewer') delete operation.security;
    }
  }
  cached = doc;
  return doc;
}
