// A secret written with VaultsClient and read back by name with
// SecretsClient, on the official OCI TypeScript/JavaScript SDK. The config
// and endpoint are the ones `coffer server --dev` prints; the vault and its
// AES key come from VAULT_ID and KEY_ID.
"use strict";
const common = require("oci-common");
const vault = require("oci-vault");
const secrets = require("oci-secrets");

async function main() {
  const provider = new common.ConfigFileAuthenticationDetailsProvider(process.env.OCI_CONFIG_FILE, "DEFAULT");
  const params = { authenticationDetailsProvider: provider };
  const tenancy = provider.getTenantId();
  const vaultId = process.env.VAULT_ID;

  const vc = new vault.VaultsClient(params);
  vc.endpoint = process.env.COFFER_ENDPOINT;
  await vc.createSecret({
    createSecretDetails: {
      compartmentId: tenancy, vaultId: vaultId, keyId: process.env.KEY_ID, secretName: "api-token",
      secretContent: { contentType: "BASE64", content: Buffer.from("hello from node").toString("base64") },
    },
  });

  const sc = new secrets.SecretsClient(params);
  sc.endpoint = process.env.COFFER_ENDPOINT;
  const b = await sc.getSecretBundleByName({ vaultId: vaultId, secretName: "api-token" });
  console.log("api-token: " + Buffer.from(b.secretBundle.secretBundleContent.content, "base64").toString());
}

main().catch((err) => {
  console.error(err && (err.stack || err.message || err));
  process.exit(1);
});
