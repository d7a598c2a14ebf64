package console

import (
	"time"

	"github.com/coffer-vault/coffer/internal/ociapi"
)

// maxLimitKeys bounds the keys a login limiter tracks at once; beyond it
// the others share one bucket (memory stays bounded under a wide flood).
const maxLimitKeys = 10_000

// newFailLimiter throttles failed logins per key (a client address block or
// a user name), burst failures and then one per every. It is the API's
// failed-authentication limiter keyed by text: a correct password spends
// nothing and gives back only the token its own attempt held, so a success
// between guesses buys an attacker nothing; while a bucket is empty every
// attempt under its key is refused before the password is hashed.
func newFailLimiter(burst int, every time.Duration) *ociapi.FailLimiter[string] {
	return ociapi.NewFailLimiter[string](1/every.Seconds(), burst, maxLimitKeys)
}
