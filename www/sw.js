// The page offline after one visit. Network first: online, every request
// goes to the server as if this worker were not here (so `trunk serve`
// and a new build are never served stale), and its answer refreshes the
// cache; offline, the cache answers. The page sends the list of what it
// needs (itself, its wasm, the training worker, MNIST, the pretrained
// model) once this worker is active, and it is fetched into the cache.
//
// BUILD is stamped with a hash of the build's files by trunk's post-build
// hook (Trunk.toml): a new build is a new worker, whose activation deletes
// the caches of older builds.
// Caches are named after this worker's scope too: two copies of the page
// in two folders of one server keep theirs apart.
const BUILD = "__BUILD__";
const PREFIX = `lenet ${self.registration.scope} `;
const CACHE = PREFIX + BUILD;

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith((async () => {
    try {
      const response = await fetch(request);
      if (response.ok) {
        const copy = response.clone();
        event.waitUntil(caches.open(CACHE).then((cache) => cache.put(request, copy)).catch(() => {}));
      }
      return response;
    } catch (offline) {
      // A page's query string (?preset=...) does not change the page.
      const cached = await caches.match(request, { cacheName: CACHE, ignoreSearch: request.mode === "navigate" });
      if (cached) return cached;
      throw offline;
    }
  })());
});

// {cache: [urls]}: fetch each into the cache, then tell the page how it went.
self.addEventListener("message", (event) => {
  const urls = event.data && event.data.cache;
  if (!Array.isArray(urls)) return;
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    const failed = [];
    for (const url of urls) {
      try {
        const response = await fetch(url);
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        await cache.put(url, response);
      } catch (e) {
        failed.push(`${url}: ${e.message}`);
      }
    }
    event.source.postMessage({ cached: urls.length - failed.length, failed, build: BUILD });
  })());
});
