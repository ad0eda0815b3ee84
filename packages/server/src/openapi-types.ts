import type { Method } from './routes/route.js';
import type { JsonSchema } from './schemas.js';

// The OpenAPI 3.1 objects the document is made of (openapi.ts and web-ui-openapi.ts build them).

/** A body's schema and examples, for one media type. */
export interface MediaType {
  schema: JsonSchema;
  example?: unknown;
  examples?: Record<string, { summary?: string; value: unknown }>;
}
/** One documented answer of an operation. */
export interface ResponseObject {
  description: string;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
  content?: Record<string, MediaType>;
}
/** A path, query or header parameter of an operation. */
export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  description?: string;
  schema: JsonSchema;
  allowEmptyValue?: boolean;
}
/** One route and method: what it takes and what it answers. */
export interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  parameters?: Parameter[];
  requestBody?: { required: boolean; content: Record<string, MediaType> };
  responses: Record<string, ResponseObject>;
}
/** The operations of one path, by HTTP method. */
export type PathItem = Partial<Record<Method, Operation>>;
/** The OpenAPI 3.1 document the API serves at /openapi.json. */
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string; license: { name: string; identifier: string } };
  paths: Record<string, PathItem>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, { type: 'http'; scheme: 'bearer'; description: string }> };
  security: Record<string, string[]>[];
}
