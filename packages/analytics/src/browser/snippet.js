/** biome-ignore-all lint: the snippet is ES5 on purpose (it runs before anything else, in any browser); terser minifies it. */
// The script-tag snippet, minified at build time into dist/snippet.min.js (the README shows it ready to paste).
// It defines a stub `window.analytics` that queues calls, and `analytics.load(writeKey, { host })` loads the
// library from the collector, which replays the queued calls in order.
var analytics = (window.analytics = window.analytics || []);
if (!analytics.initialized && !analytics.invoked) {
  analytics.invoked = true;
  var methods = ['track', 'page', 'identify', 'group', 'alias', 'reset', 'consent', 'flush', 'ready', 'user', 'on'];
  var stub = function (method) {
    return function () {
      var args = Array.prototype.slice.call(arguments);
      args.unshift(method);
      analytics.push(args);
      return analytics;
    };
  };
  for (var i = 0; i < methods.length; i++) analytics[methods[i]] = stub(methods[i]);
  analytics.load = function (writeKey, options) {
    analytics._writeKey = writeKey;
    analytics._options = options || {};
    var script = document.createElement('script');
    script.async = true;
    script.src = (analytics._options.host || '') + '/sdk/v1/analytics.min.js';
    var first = document.getElementsByTagName('script')[0];
    first.parentNode.insertBefore(script, first);
  };
}
