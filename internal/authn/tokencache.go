package authn

import (
	"crypto/rsa"
	"crypto/sha256"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/authz"
)

// sessionTokenCacheSize bounds how many verified tokens a SessionTokens
// remembers: a workload keeps one token for up to an hour and sends it
// with every request, so a few thousand cover many workloads.
const sessionTokenCacheSize = 4096

// maxIssueSkew is how far in the future a token's iat may be (clocks of
// several nodes sharing a database differ a little).
const maxIssueSkew = 5 * time.Minute

// verifiedToken is what a token that verified in full stands for.
type verifiedToken struct {
	pub       *rsa.PublicKey
	principal authz.Principal
	iat, exp  int64 // Unix seconds, from the token
}

// validAt reports whether the token may be used at now: before its expiry
// and not issued in the future. A cached entry is used only while valid.
func (v *verifiedToken) validAt(now time.Time) bool {
	t := now.Unix()
	return t < v.exp && v.iat <= now.Add(maxIssueSkew).Unix()
}

// newPrincipal returns a copy of the principal the caller may keep and
// change without touching the cached one.
func (v *verifiedToken) newPrincipal() *authz.Principal {
	p := v.principal
	p.GroupIDs = slices.Clone(p.GroupIDs)
	p.Attributes = maps.Clone(p.Attributes)
	return &p
}

// tokenCache remembers tokens that verified in full, by the SHA-256 of
// their text (the token itself, a credential, is not kept), so that the
// next request with the same token skips the MAC, the JSON decoding and
// the RSA key parse. Whatever the hash finds is the very token that
// verified, so a hit needs no MAC: only tokens that passed every check are
// added, and an entry is used only within its token's lifetime. At most
// max entries are held; when full, expired entries go first, then
// arbitrary ones until a quarter is free, so the sweep is paid once per
// max/4 insertions. The zero value caches nothing.
type tokenCache struct {
	mu  sync.RWMutex
	m   map[[sha256.Size]byte]*verifiedToken
	max int
}

// get returns the entry for id if it is valid at now, else nil.
func (c *tokenCache) get(id [sha256.Size]byte, now time.Time) *verifiedToken {
	c.mu.RLock()
	v := c.m[id]
	c.mu.RUnlock()
	if v == nil || !v.validAt(now) {
		return nil
	}
	return v
}

// put adds a verified token, making room first when the cache is full.
func (c *tokenCache) put(id [sha256.Size]byte, v *verifiedToken, now time.Time) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[[sha256.Size]byte]*verifiedToken)
	}
	if len(c.m) >= c.max {
		for k, e := range c.m {
			if !e.validAt(now) {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < c.max-c.max/4 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[id] = v
}

// len is the number of entries, for tests.
func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
