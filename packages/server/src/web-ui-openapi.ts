import type { MediaType, PathItem, ResponseObject } from './openapi-types.js';
import type { JsonSchema } from './schemas.js';

/** The web UI's routes in the OpenAPI document (web-ui.ts serves them). */

const ERROR = { $ref: '#/components/schemas/Error' };
const json = (schema: JsonSchema, example: unknown): Record<string, MediaType> => ({ 'application/json': { schema, example } });
const error = (description: string, code: string, message: string): ResponseObject => ({ description, content: json(ERROR, { error: { code, message } }) });

const AUTH: JsonSchema = {
  type: 'object', additionalProperties: false, required: ['token_required', 'authenticated'],
  properties: { token_required: { type: 'boolean' }, authenticated: { type: 'boolean' } },
};

export const WEB_UI_PATHS: Record<string, PathItem> = {
  '/': {
    get: {
      operationId: 'webUi', summary: 'The web UI', tags: ['web UI'],
      description: 'The single-page web UI (no token needed to load it). Not cached: it names the current hashed assets.',
      responses: { 200: { description: 'index.html', content: { 'text/html': { schema: { type: 'string' }, example: '<!doctype html><html lang="en">…</html>' } } } },
    },
  },
  '/ui/assets/{name}': {
    get: {
      operationId: 'webUiAsset', summary: "A web UI asset (script or style sheet)", tags: ['web UI'],
      parameters: [{ name: 'name', in: 'path', required: true, description: 'A content-hashed file name, cached for a year.', schema: { type: 'string' } }],
      responses: {
        200: { description: 'The file.', content: {
          'text/javascript': { schema: { type: 'string' }, example: '/* minified script */' },
          'text/css': { schema: { type: 'string' }, example: '/* minified styles */' },
        } },
        404: error('No such asset.', 'not_found', 'no UI file /ui/assets/nope.js'),
      },
    },
  },
  '/ui/auth': {
    get: {
      operationId: 'webUiAuth', summary: 'Whether the web UI must ask for the token', tags: ['web UI'],
      description: 'Needs no token: says whether the daemon has one and whether the request\'s UI cookie carries it.',
      responses: { 200: { description: 'The answer.', content: json(AUTH, { token_required: true, authenticated: false }) } },
    },
  },
  '/ui/login': {
    post: {
      operationId: 'webUiLogin', summary: 'Trade the API token for the web UI cookie', tags: ['web UI'],
      description: 'Sets an HttpOnly, SameSite=Strict cookie that the API then accepts like `Authorization: Bearer`. A '
        + 'state-changing request authenticated by the cookie alone must carry the daemon\'s own Origin.',
      requestBody: {
        required: true,
        content: json({ type: 'object', required: ['token'], properties: { token: { type: 'string', minLength: 1 } } }, { token: 'the-api-token' }),
      },
      responses: {
        200: { description: 'Signed in (or no token needed).', content: json({ type: 'object', required: ['token_required'], properties: { token_required: { type: 'boolean' } } }, { token_required: true }) },
        400: error('No token given.', 'bad_request', 'token must be a non-empty string'),
        401: error('Wrong token.', 'unauthorized', 'the API token is not valid'),
      },
    },
  },
  '/ui/logout': {
    post: {
      operationId: 'webUiLogout', summary: 'Clear the web UI cookie', tags: ['web UI'],
      responses: { 204: { description: 'Signed out.' } },
    },
  },
};
