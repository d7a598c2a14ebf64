// Package peer authenticates Coffer deployments of different regions to
// each other and seals what they exchange, for cross-region replication.
//
// # Identities
//
// Each deployment holds an Ed25519 key pair, its peer identity, in a PEM
// file (PKCS#8, "PRIVATE KEY", mode 0600). Its public half is written
// "ed25519:" followed by the 32 bytes in standard base64 with padding
// (44 characters), and an operator gives it to the other regions
// (--peer-key REGION=ed25519:...), together with where to reach them
// (--peer REGION=URL).
//
// # Requests
//
// A replica pulls from its source with POST requests. The requester signs
// the string
//
//	coffer-peer-request/v1 LF from LF to LF METHOD LF target LF date LF nonce LF hex(sha256(body))
//
// where target is the request target exactly as sent (path, and "?" and
// the raw query when there is one), date is RFC 3339 UTC to the second and
// nonce is 16 random bytes in unpadded base64url. The headers
// Coffer-Peer-From, -To, -Date, -Nonce and -Signature carry them. The
// recipient ([Verifier]) accepts a request only when it is addressed to
// its own region, comes from a configured peer, is dated within [MaxSkew]
// of its clock, verifies under that peer's key, and carries a nonce it has
// not seen from that peer in the last 2×MaxSkew.
//
// # Responses
//
// The responder signs every answer, errors included:
//
//	coffer-peer-response/v1 LF responder LF requester LF request nonce LF status LF hex(sha256(body))
//
// and [Client] accepts only answers signed by the peer it asked and bound
// to its own request's nonce, so the authentication is mutual even over
// plain HTTP. Headers of a response other than the signature are not
// covered; the status and body are.
//
// # Envelopes
//
// Content that crosses regions (secret versions, key material) is sealed
// with [Seal] to an [EphemeralKey] the requester made for this one
// exchange (X25519, HKDF-SHA256, AES-256-GCM, the exchange as associated
// data), so it is never in clear in transit even without TLS, and a
// recorded exchange cannot be opened once the requester destroyed the key.
package peer
