// Package secrets is Coffer's secrets domain: secrets, their versions and
// stages, rules, deletion windows, automatic generation, rotation and the
// bundles that readers fetch. The wire layer (internal/ociapi) maps the OCI
// SDK's VaultsClient and SecretsClient operations onto Service's methods.
//
// # Storage
//
// Records are JSON in the store under secrets/...:
//
//	secrets/s/<secretID>                  secret record (stage pointers, rules, lease)
//	secrets/v/<secretID>/<%020d version>  version record (sealed content)
//	secrets/name-mac/<vaultID>/<MAC>      unique-name index -> secretID
//	secrets/c/<compartmentID>/<secretID>  compartment index for ListSecrets
//	secrets/retry/<op>/<target>/<MAC>     retry-token record, 24 h
//
// Keys hold identifiers only. Names and retry tokens appear in keys only as
// blind index entries (internal/blindindex: HMAC-SHA256 under a key from the
// barrier's keyring), so the database shows neither. Nothing lists the name
// index: ListSecrets reads the compartment index and sorts in memory.
// MigrateIndexes moves the secrets/name/<vaultID>/<name> entries of older
// stores.
//
// # Envelope encryption
//
// Each version's content is sealed with AES-256-GCM under a fresh 256-bit
// data key; the AAD binds it to the secret OCID and version number. The data
// key is wrapped by the secret's master key through KeyUser, called outside
// store transactions. The version records the key version that wrapped it, so
// master-key rotation never breaks old versions. The store never holds
// plaintext content even with the barrier off.
//
// The reuse rule compares HMAC-SHA256 values of content under a per-secret
// 256-bit MAC key, itself wrapped by the master key like a data key. A plain
// hash of content is never stored. MACs of deleted versions are kept (their
// ciphertext and wrapped data key are destroyed) so that
// isEnforcedOnDeletedSecretVersions can be honoured.
//
// # Concurrency
//
// An UpdateSecret or RotateSecret that writes content does slow work (key
// wrapping) outside the store. It first moves the secret to UPDATING with a
// lease in one transaction, seals the content, then writes the version and
// returns the secret to ACTIVE in a second transaction that checks it still
// holds the lease. Any other mutation that finds the secret UPDATING under a
// live lease gets errs.IncorrectState ("secret is being updated by another
// request"), as OCI answers 409 IncorrectState while a secret is UPDATING. A
// lease left by a crashed node expires after Config.UpdateLease.
//
// Every record carries an ETag that changes on every write; every mutating
// method takes an optional IfMatch checked inside the transaction
// (errs.PreconditionFailed on mismatch).
//
// # Limits
//
// A secret has at most Config.MaxVersionsInUse versions in use (neither
// deleted nor scheduled for deletion) and Config.MaxVersionsPendingDeletion
// scheduled for deletion; OCI's paid-tenancy figures (30 and 30,
// docs/oci-behaviours.md#secrets) by default. Deleted versions do not count. A content update or
// rotation past the first limit, a cancelled version deletion that would
// pass it, and a version deletion past the second are errs.LimitExceeded
// (400 LimitExceeded) with a message that says how to make room.
//
// # Stages
//
// The secret record keeps four pointers: CURRENT, PENDING, LATEST, PREVIOUS.
// A version carries DEPRECATED when it holds none of CURRENT, PENDING or
// PREVIOUS (a version that is only LATEST, after a roll-back, is therefore
// LATEST and DEPRECATED). See stages.go for the transitions.
package secrets
