// Start ELK for the graph pages, as early as the page's head: a classic
// script (not a module, which would wait for the whole page), loaded right
// after elk-api.js.  ELK runs in a web worker (elk-worker.min.js), so the
// page stays responsive while it lays a graph out, and the worker fetches,
// compiles and warms ELK up (a quarter of a cold first layout) while the
// page is still loading.  Where no worker can start (a static URL on
// another origin, a content security policy), the same ELK runs in the
// page (elk.bundled.js, loaded then).
//
// window.flowrElk: a promise of the ELK instance (layout.js awaits it);
// window.flowrElkThread: "worker" or "page" once started; performance mark
// flowr-elk-ready when it is.
(function () {
  "use strict";

  // Only the layered algorithm is registered (not ELK's other eight).
  const ALGORITHMS = ["layered"];

  // A two-node graph: laying it out makes ELK register its algorithms.
  const WARM_UP = {
    id: "warm-up",
    children: [
      { id: "a", width: 10, height: 10 },
      { id: "b", width: 10, height: 10 },
    ],
    edges: [{ id: "ab", sources: ["a"], targets: ["b"] }],
  };

  const tag = document.currentScript;

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = () => reject(new Error(`cannot load ${src}`));
      document.head.appendChild(script);
    });
  }

  // ELK in a worker, warmed up; rejects when the worker cannot start or
  // fails (elkjs itself would then wait forever).
  function workerElk(url) {
    let worker = null;
    const started = new Promise((resolve, reject) => {
      const factory = (workerUrl) => {
        worker = new Worker(workerUrl);
        worker.addEventListener("error", (event) => reject(new Error(event.message || "ELK worker failed")));
        return worker;
      };
      const elk = new window.ELK({ workerUrl: url, workerFactory: factory, algorithms: ALGORITHMS });
      elk.layout(WARM_UP).then(() => resolve(elk), reject);
    });
    return started.catch((error) => {
      if (worker) worker.terminate();
      throw error;
    });
  }

  async function start() {
    const urls = { worker: tag.dataset.worker, bundled: tag.dataset.bundled };
    if (urls.worker && typeof Worker === "function" && typeof window.ELK === "function") {
      try {
        const instance = await workerElk(urls.worker);
        performance.mark("flowr-elk-ready");
        window.flowrElkThread = "worker";
        return instance;
      } catch (error) {
        console.warn("flowr: ELK runs in the page, its worker did not start:", error.message);
      }
    }
    await loadScript(urls.bundled);
    performance.mark("flowr-elk-ready");
    window.flowrElkThread = "page";
    return new window.ELK({ algorithms: ALGORITHMS });
  }

  window.flowrElk = start();
})();
