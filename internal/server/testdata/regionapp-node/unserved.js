// Run by TestUnservedNodeSDK: the official OCI TypeScript/JavaScript SDK
// with its DEFAULT retry configuration and circuit breaker, as a program
// that sets nothing gets them. After an identity write it calls an
// operation Coffer does not serve, twelve times; each call must fail at
// once with 501 MethodNotImplemented naming the operation (the test counts
// the requests the server saw).
"use strict";
const common = require("oci-common");
const identity = require("oci-identity");

async function main() {
  const provider = new common.ConfigFileAuthenticationDetailsProvider(process.env.OCI_CONFIG_FILE);
  const tenancy = provider.getTenantId();
  const ic = new identity.IdentityClient({ authenticationDetailsProvider: provider });
  await ic.createCompartment({
    createCompartmentDetails: { compartmentId: tenancy, name: "unserved-node", description: "an identity write first" },
  });
  for (let i = 0; i < 12; i++) {
    const started = Date.now();
    try {
      await ic.listTagNamespaces({ compartmentId: tenancy });
      throw new Error("listTagNamespaces succeeded");
    } catch (err) {
      if (err.statusCode !== 501) throw err;
      console.log(`unserved: ${err.statusCode} ${err.serviceCode} ${err.message} (${Date.now() - started} ms)`);
    }
  }
}

main().catch((err) => {
  console.error("unserved.js:", err && (err.stack || err.message || err));
  process.exit(1);
});
