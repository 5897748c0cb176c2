// Swagger UI for /api/docs. "Try it out" runs as the logged-in user: the session cookie goes
// with every request, and requests that change something carry the page's CSRF token.
(function () {
  "use strict";
  const root = document.getElementById("swagger-ui");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const unsafe = new Set(["POST", "PUT", "PATCH", "DELETE"]);
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    requestInterceptor: function (req) {
      if (unsafe.has((req.method || "GET").toUpperCase())) {
        req.headers["X-CSRF-Token"] = csrf;
      }
      return req;
    },
  });
})();
