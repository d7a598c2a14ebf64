// Preloaded with `node --require ./dns.js`: the test cannot publish
// wildcard DNS, so every name resolves to 127.0.0.1. This is the only
// change from a program run against OCI; the port comes from the realm
// domain in OCI_REGION_METADATA, and TLS (NODE_EXTRA_CA_CERTS, server
// name checks) is Node's own.
"use strict";
const dns = require("dns");
dns.lookup = function (hostname, options, callback) {
  if (typeof options === "function") {
    callback = options;
    options = {};
  }
  if (options && options.all) {
    process.nextTick(callback, null, [{ address: "127.0.0.1", family: 4 }]);
    return;
  }
  process.nextTick(callback, null, "127.0.0.1", 4);
};
