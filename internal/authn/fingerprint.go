package authn

import (
	"crypto/md5"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
)

// Fingerprint returns an API key's fingerprint as OCI computes it: MD5 over
// the DER SubjectPublicKeyInfo, as lowercase hex pairs joined by ':'.
func Fingerprint(pub any) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("authn: fingerprint: %w", err)
	}
	sum := md5.Sum(der)
	pairs := make([]string, len(sum))
	for i, b := range sum {
		pairs[i] = hex.EncodeToString([]byte{b})
	}
	return strings.Join(pairs, ":"), nil
}
