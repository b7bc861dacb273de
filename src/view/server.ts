/**
 * The `hmcseg view` server: the bundled page (dist/web), the case list as JSON, and the files of
 * the directories it was given, on 127.0.0.1 only. A request names a file by root and relative
 * path; `..`, absolute paths, NUL bytes and anything that resolves (symbolic links included)
 * outside its root are refused with 403. The server computes nothing but the case list: inference
 * on a dropped volume runs in the browser (onnxruntime-web, whose wasm files are served from
 * dist/web/ort/).
 */
import { createReadStream, existsSync, realpathSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, isAbsolute, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { browserPredictOptions, listViewCases, recordedInput, type ViewCase, type ViewRootName } from './cases.js';

export interface ViewServerOptions {
  /** Prediction directory (hmcseg predict --out). */
  readonly pred: string;
  /** Ground truth data set, for per-slice Dice. */
  readonly gt?: string;
  readonly labels?: string;
  /** Directory of the input images (default: the inputs recorded by hmcseg predict). */
  readonly images?: string;
  /** ONNX model (hmcseg export) for in-browser inference on a dropped volume. */
  readonly model?: string;
  /** Warning-score threshold for flagging a slice (default: the 90th percentile of the scores). */
  readonly threshold?: number;
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  readonly port?: number;
  /** The bundled page (default: dist/web of this package). */
  readonly webRoot?: string;
}

export interface ViewServer {
  readonly url: string;
  readonly port: number;
  readonly cases: readonly ViewCase[];
  close(): Promise<void>;
}

/** The loopback address the viewer binds to: never a public interface. */
export const VIEW_HOST = '127.0.0.1';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.map': 'application/json',
};

/** dist/web of this package, from dist/src/view/ (compiled) or src/view/ (sources run by vitest). */
function defaultWebRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = resolve(here, here.split(sep).includes('dist') ? '../../..' : '../..');
  return join(root, 'dist', 'web');
}

/**
 * `rel` (a URL path, already decoded) under `root`, or a reason to refuse it. Refused: empty,
 * absolute (`/x`, `C:\x`), any `..` segment, backslashes, NUL, and a real path outside the root.
 */
export function resolveUnder(root: string, rel: string): { ok: true; path: string } | { ok: false; reason: string } {
  if (rel === '' || rel.includes('\0')) return { ok: false, reason: 'empty path or NUL byte' };
  if (rel.includes('\\') || isAbsolute(rel) || /^[A-Za-z]:/.test(rel)) return { ok: false, reason: 'absolute paths are refused' };
  if (rel.split('/').some((s) => s === '..')) return { ok: false, reason: '".." is refused' };
  const full = resolve(root, rel);
  if (!existsSync(full)) return { ok: false, reason: 'not found' };
  const real = realpathSync(full);
  const realRoot = realpathSync(root);
  if (!real.startsWith(realRoot + sep)) return { ok: false, reason: 'outside the served directory' };
  if (!statSync(real).isFile()) return { ok: false, reason: 'not a file' };
  return { ok: true, path: real };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

function sendFile(req: IncomingMessage, res: ServerResponse, path: string): void {
  const size = statSync(path).size;
  res.writeHead(200, {
    'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
    'content-length': size,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  if (req.method === 'HEAD') res.end();
  else createReadStream(path).pipe(res);
}

/**
 * Starts the viewer. Reads the case list once (so a bad directory fails here, with the file named;
 * with a model, also cases predicted with different warning scores or post-processing).
 *
 * @example
 * const v = await startViewServer({ pred: 'runs/pred', gt: '../shared/data/acdc' });
 * console.log(v.url); // http://127.0.0.1:PORT/
 * await v.close();
 */
export async function startViewServer(opts: ViewServerOptions): Promise<ViewServer> {
  const webRoot = resolve(opts.webRoot ?? defaultWebRoot());
  if (!existsSync(join(webRoot, 'index.html'))) {
    throw new Error(`${webRoot}: the viewer page is not built (run npm run build:view)`);
  }
  const model = opts.model === undefined ? undefined : resolve(opts.model);
  if (model !== undefined && !(existsSync(model) && statSync(model).isFile())) throw new Error(`${model}: ONNX model file does not exist`);
  if (opts.threshold !== undefined && !Number.isFinite(opts.threshold)) throw new RangeError(`threshold must be a finite number, got ${opts.threshold}`);
  const cases = listViewCases(opts);
  const roots: Partial<Record<ViewRootName, string>> = { pred: resolve(opts.pred) };
  if (opts.gt !== undefined) roots.gt = resolve(opts.gt);
  if (opts.images !== undefined) roots.images = resolve(opts.images);
  const config = JSON.stringify({
    cases,
    threshold: opts.threshold ?? null,
    model: model === undefined ? null : '/model.onnx',
    // How the page segments a dropped volume: as hmcseg predict made the listed cases.
    prediction: model === undefined ? null : browserPredictOptions(cases),
    gt: opts.gt !== undefined,
  });

  let origin = '';
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'only GET and HEAD\n');
    // DNS rebinding: a page of another origin that resolves to 127.0.0.1 must not read the files.
    const host = req.headers.host ?? '';
    if (host !== origin && host !== origin.replace(VIEW_HOST, 'localhost')) return send(res, 403, 'text/plain', `host ${host} refused\n`);
    let pathname: string;
    try {
      // Decoded by hand, not by URL(): the URL parser folds "/a/../b" and "%2e%2e" before we could refuse them.
      pathname = decodeURIComponent((req.url ?? '/').split('?')[0]);
    } catch {
      return send(res, 400, 'text/plain', 'bad URL encoding\n');
    }
    if (pathname.split(/[/\\]/).includes('..')) return send(res, 403, 'text/plain', '".." is refused\n');
    if (pathname === '/') return sendFile(req, res, join(webRoot, 'index.html'));
    if (pathname === '/api/view.json') return send(res, 200, 'application/json', config);
    if (pathname === '/model.onnx') {
      if (model === undefined) return send(res, 404, 'text/plain', 'no --model given\n');
      return sendFile(req, res, model);
    }
    const m = /^\/files\/(pred|gt|images|input)\/(.*)$/.exec(pathname);
    if (m) {
      const root = m[1] as ViewRootName;
      if (root === 'input') {
        // The image hmcseg predict recorded for a case: named by the case, never by a path.
        const c = cases.find((v) => v.image?.root === 'input' && v.image.path === m[2]);
        const file = c === undefined ? undefined : recordedInput(opts.pred, c.name);
        if (file === undefined || !existsSync(file)) return send(res, 404, 'text/plain', 'no recorded input for this case\n');
        return sendFile(req, res, file);
      }
      const dir = roots[root];
      if (dir === undefined) return send(res, 404, 'text/plain', `no --${root} directory given\n`);
      return serveUnder(req, res, dir, m[2]);
    }
    return serveUnder(req, res, webRoot, pathname.slice(1));
  };

  const server: Server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      send(res, 500, 'text/plain', `${(err as Error).message}\n`);
    }
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (err) => fail(new Error(`cannot listen on ${VIEW_HOST}:${opts.port ?? 0} (${err.message})`)));
    server.listen(opts.port ?? 0, VIEW_HOST, () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  origin = `${VIEW_HOST}:${port}`;
  return {
    url: `http://${origin}/`,
    port,
    cases,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

function serveUnder(req: IncomingMessage, res: ServerResponse, root: string, rel: string): void {
  const r = resolveUnder(root, rel);
  if (!r.ok) return send(res, r.reason === 'not found' || r.reason === 'not a file' ? 404 : 403, 'text/plain', `${r.reason}\n`);
  sendFile(req, res, r.path);
}
