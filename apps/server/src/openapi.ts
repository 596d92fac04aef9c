import { generateOpenApiDocument } from 'trpc-to-openapi';
import { appRouter } from './trpc/root.ts';

let cached: ReturnType<typeof generateOpenApiDocument> | undefined;

/** OpenAPI 3.1, generated from the same procedures and zod contracts tRPC serves. */
export function openApiDocument(baseUrl: string) {
  cached ??= generateOpenApiDocument(appRouter, {
    title: 'Boxoffice API',
    version: '0.1.0',
    description:
      'Event ticket booking. Errors are `{ "error": { "code", "message", "details" } }`. ' +
      'Authenticate with `Authorization: Bearer <accessToken>` from `POST /api/auth/login`.',
    baseUrl: `${baseUrl}/api`,
    securitySchemes: { Authorization: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
  });
  return cached;
}
