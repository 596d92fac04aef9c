import { ErrorBodySchema, type ErrorCode, errorStatus } from '@boxoffice/contracts';
import { generateOpenApiDocument } from 'trpc-to-openapi';
import { z } from 'zod';
import type { ProcedureMeta } from './trpc/init.ts';
import { appRouter } from './trpc/root.ts';

type Operation = { operationId?: string; security?: unknown; responses?: Record<string, unknown> };

let cached: ReturnType<typeof generateOpenApiDocument> | undefined;

/** Error responses by status, each naming the codes it can carry, all in the one Error shape. */
function errorResponses(meta: ProcedureMeta): Record<string, unknown> {
  const codes = new Set<ErrorCode>(['VALIDATION_FAILED', 'MALFORMED_REQUEST', ...(meta.errors ?? [])]);
  if (meta.access === 'user' || meta.access === 'admin') codes.add('UNAUTHENTICATED');
  if (meta.access !== 'public') codes.add('INVALID_TOKEN');
  if (meta.access === 'admin') codes.add('FORBIDDEN');
  codes.add('INTERNAL');
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(errorStatus[code], [...(byStatus.get(errorStatus[code]) ?? []), code]);
  return Object.fromEntries(
    [...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, list]) => [
        String(status),
        {
          description: `error.code: ${list.join(', ')}`,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      ]),
  );
}

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
  const schemas = (doc.components?.schemas ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(schemas)) if (name.startsWith('error.')) delete schemas[name];
  schemas.Error = z.toJSONSchema(ErrorBodySchema, { target: 'openapi-3.0' });

  const metas = new Map(
    Object.entries(appRouter._def.procedures).map(([path, procedure]) => [
      path.replaceAll('.', '-'),
      (procedure as unknown as { _def: { meta?: ProcedureMeta } })._def.meta ?? {},
    ]),
  );
  for (const item of Object.values(doc.paths ?? {})) {
    for (const operation of Object.values(item as Record<string, Operation>)) {
      const meta = (operation.operationId && metas.get(operation.operationId)) || {};
      if (meta.access === 'public' || meta.access === 'viewer') delete operation.security;
      operation.responses = { 200: operation.responses?.[200], ...errorResponses(meta) };
    }
  }
  cached = doc;
  return doc;
}
