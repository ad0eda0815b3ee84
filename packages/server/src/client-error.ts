import type http from 'node:http';
import type { Socket } from 'node:net';
import type { ApiErrorBody, ApiErrorCode } from './errors.js';

/** llhttp's error codes that have an answer of their own; every other parse error is a 400. */
const ANSWERS: Readonly<Record<string, readonly [status: number, code: ApiErrorCode, message: string]>> = {
  HPE_HEADER_OVERFLOW: [431, 'request_header_too_large', 'the request headers are larger than the server accepts'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'payload_too_large', 'the chunk extensions are larger than the server accepts'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request_timeout', 'the request did not arrive in time'],
  HPE_INVALID_CONTENT_LENGTH: [400, 'bad_request', 'malformed HTTP request: invalid Content-Length'],
  HPE_UNEXPECTED_CONTENT_LENGTH: [400, 'bad_request', 'malformed HTTP request: Content-Length together with Transfer-Encoding'],
  HPE_INVALID_CHUNK_SIZE: [400, 'bad_request', 'malformed HTTP request: invalid chunk size in a chunked body'],
  HPE_INVALID_TRANSFER_ENCODING: [400, 'bad_request', 'malformed HTTP request: invalid Transfer-Encoding'],
};

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request', 408: 'Request Timeout', 413: 'Payload Too Large', 431: 'Request Header Fields Too Large',
};

/** The raw HTTP/1.1 answer to a request Node's parser refused: a JSON error body like every other error. */
export function clientErrorResponse(errCode: string | undefined): string {
  const [status, code, message] = ANSWERS[errCode ?? ''] ?? [400, 'bad_request', 'malformed HTTP request'] as const;
  const body: ApiErrorBody = { error: { code, message } };
  const json = JSON.stringify(body);
  return `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: application/json; charset=utf-8\r\n`
    + `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`;
}

/**
 * Replaces Node's default answer to unparseable requests (an empty 400/431 that is not JSON) with the API's
 * JSON error, then closes the connection. Like Node, it writes nothing when a response on this connection
 * has already begun (that would corrupt it) or when the socket can no longer be written.
 */
export function answerClientErrors(server: http.Server): void {
  // The latest response per connection: one WeakMap entry per request, nothing allocated per request.
  const current = new WeakMap<Socket, http.ServerResponse>();
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    current.set(req.socket, res);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const res = current.get(socket);
    const midResponse = res !== undefined && res.headersSent && !res.writableFinished;
    if (err.code !== 'ECONNRESET' && socket.writable && !midResponse) {
      socket.end(clientErrorResponse(err.code));
      // The client is meant to close now; one that keeps its half open does not keep the socket for long.
      socket.setTimeout(10_000, () => socket.destroy());
    } else {
      socket.destroy();
    }
  });
}
