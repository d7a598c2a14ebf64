// An ordinary program on the official OCI TypeScript/JavaScript SDK, run by
// TestRegionNodeSDK. Its clients get their region from the config file
// (OCI_CONFIG_FILE) and their endpoints from the region, which the SDK
// finds in OCI_REGION_METADATA: no endpoint is set anywhere, except that
// key and crypto clients use the vault's managementEndpoint and
// cryptoEndpoint, as every OCI program does. Name resolution is the one
// change, in dns.js.
"use strict";
const common = require("oci-common");
const identity = require("oci-identity");
const keymanagement = require("oci-keymanagement");
const vault = require("oci-vault");
const secrets = require("oci-secrets");

// Fail at once rather than retry: this is a test.
const clientConfiguration = {
  retryConfiguration: { terminationStrategy: new common.MaxAttemptsTerminationStrategy(1) },
};

async function main() {
  const provider = new common.ConfigFileAuthenticationDetailsProvider(process.env.OCI_CONFIG_FILE);
  const params = { authenticationDetailsProvider: provider };
  const tenancy = provider.getTenantId();

  const ic = new identity.IdentityClient(params, clientConfiguration);
  console.log("identity host: " + ic.endpoint);
  const t = await ic.getTenancy({ tenancyId: tenancy });
  console.log("tenancy: " + t.tenancy.name);

  const vc = new keymanagement.KmsVaultClient(params, clientConfiguration);
  console.log("kms host: " + vc.endpoint);
  const v = (await vc.createVault({
    createVaultDetails: { compartmentId: tenancy, displayName: "region-app-node", vaultType: keymanagement.models.CreateVaultDetails.VaultType.Default },
  })).vault;
  console.log("management endpoint: " + v.managementEndpoint);

  const mc = new keymanagement.KmsManagementClient(params, clientConfiguration);
  mc.endpoint = v.managementEndpoint;
  const k = (await mc.createKey({
    createKeyDetails: {
      compartmentId: tenancy, displayName: "region-app-node",
      protectionMode: keymanagement.models.CreateKeyDetails.ProtectionMode.Software,
      keyShape: { algorithm: keymanagement.models.KeyShape.Algorithm.Aes, length: 32 },
    },
  })).key;

  const cc = new keymanagement.KmsCryptoClient(params, clientConfiguration);
  cc.endpoint = v.cryptoEndpoint;
  const enc = await cc.encrypt({ encryptDataDetails: { keyId: k.id, plaintext: Buffer.from("crypto over the region").toString("base64") } });
  const dec = await cc.decrypt({ decryptDataDetails: { keyId: k.id, ciphertext: enc.encryptedData.ciphertext } });
  console.log("decrypted: " + Buffer.from(dec.decryptedData.plaintext, "base64").toString());

  const sc = new vault.VaultsClient(params, clientConfiguration);
  console.log("vaults host: " + sc.endpoint);
  const s = (await sc.createSecret({
    createSecretDetails: {
      compartmentId: tenancy, vaultId: v.id, keyId: k.id, secretName: "region-app-node",
      secretContent: { contentType: "BASE64", content: Buffer.from("hello from the region").toString("base64") },
    },
  })).secret;

  const rc = new secrets.SecretsClient(params, clientConfiguration);
  console.log("secrets host: " + rc.endpoint);
  const b = await rc.getSecretBundle({ secretId: s.id });
  console.log("bundle: " + Buffer.from(b.secretBundle.secretBundleContent.content, "base64").toString());
}

main().catch((err) => {
  console.error("regionapp-node:", err && (err.stack || err.message || err));
  process.exit(1);
});
