// A small static file server for the demo: serves the repository root on 127.0.0.1 so that
// www/ can import the package's own entry point (/js/browser.js) and its wasm (/pkg/).
// Usage: node scripts/serve.mjs [port]   (port 0 picks a free one; the URL is printed)
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};
// Only what the page needs is served: no sources, no build output besides pkg/.
const served = ["/www/", "/js/", "/pkg/"];

/** `extra`: more path prefixes to serve (tests serve their own pages). */
export function startServer(port = 0, { extra = [] } = {}) {
  const allowed = [...served, ...extra];
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, "http://localhost").pathname));
    if (path === "/") {
      response.writeHead(302, { location: "/www/" }).end();
      return;
    }
    const file = join(root, path.endsWith("/") ? path + "index.html" : path);
    if (!allowed.some((prefix) => path.startsWith(prefix)) || !file.startsWith(root)) {
      response.writeHead(404).end("not found");
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, {
        "content-type": types[extname(file)] || "application/octet-stream",
        "cache-control": "no-store",
      });
      response.end(body);
    } catch {
      response.writeHead(404).end("not found");
    }
  });
  return new Promise((ready) => {
    server.listen(port, "127.0.0.1", () => ready({ server, url: `http://127.0.0.1:${server.address().port}/www/` }));
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? 8080);
  const { url } = await startServer(port);
  console.log(`brook demo: ${url}  (Ctrl-C to stop)`);
}
