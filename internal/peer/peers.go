package peer

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// maxRegion is the longest region name accepted.
const maxRegion = 64

// CheckRegion says whether s is shaped like an OCI region name
// (us-ashburn-1): 1 to 64 lowercase letters, digits and '-', starting with
// a letter.
func CheckRegion(s string) error {
	if s == "" {
		return errors.New("region name is empty")
	}
	if len(s) > maxRegion {
		return fmt.Errorf("region name is longer than %d characters", maxRegion)
	}
	if s[0] < 'a' || s[0] > 'z' {
		return errors.New("region name must start with a lowercase letter")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return errors.New("region name may hold only lowercase letters, digits and '-'")
		}
	}
	return nil
}

// Peer is another deployment this one exchanges with.
type Peer struct {
	Region string
	// URL is where the peer serves, with no trailing slash; nil for a peer
	// this deployment never calls (a replica that only pulls from it).
	URL *url.URL
	Key PublicKey
}

// ParsePeerFlag parses --peer's REGION=URL. The URL is http or https, has
// a host, and no user info, query, fragment or path other than "/"; it is
// returned without a trailing slash.
func ParsePeerFlag(s string) (region string, u *url.URL, err error) {
	region, raw, ok := strings.Cut(s, "=")
	if !ok {
		return "", nil, errors.New("peer must be REGION=URL")
	}
	if err := CheckRegion(region); err != nil {
		return "", nil, fmt.Errorf("peer: %w", err)
	}
	u, err = parsePeerURL(raw)
	if err != nil {
		return "", nil, fmt.Errorf("peer %s: %w", region, err)
	}
	return region, u, nil
}

func parsePeerURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url's errors quote the input, which may hold a password.
		return nil, errors.New("URL does not parse")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("URL must start with http:// or https://")
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return nil, errors.New("URL has no host")
	case u.User != nil:
		return nil, errors.New("URL must not hold user information")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, errors.New("URL must not have a query")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, errors.New("URL must not have a fragment")
	case u.Path != "" && u.Path != "/" || u.RawPath != "":
		return nil, errors.New(`URL must not have a path other than "/"`)
	}
	u.Path = ""
	return u, nil
}

// ParsePeerKeyFlag parses --peer-key's REGION=ed25519:BASE64.
func ParsePeerKeyFlag(s string) (region string, key PublicKey, err error) {
	region, raw, ok := strings.Cut(s, "=")
	if !ok {
		return "", key, errors.New("peer key must be REGION=ed25519:BASE64")
	}
	if err := CheckRegion(region); err != nil {
		return "", key, fmt.Errorf("peer key: %w", err)
	}
	key, err = ParsePublicKey(raw)
	if err != nil {
		return "", key, fmt.Errorf("peer key for %s: %w", region, err)
	}
	return region, key, nil
}

// Peers is the set of peers of one deployment, by region.
type Peers struct {
	self   string
	byName map[string]Peer
}

// NewPeers checks list against the deployment's own region self: every
// region well formed and named once, none equal to self, every peer with
// a key.
func NewPeers(self string, list []Peer) (*Peers, error) {
	if err := CheckRegion(self); err != nil {
		return nil, fmt.Errorf("own region: %w", err)
	}
	ps := &Peers{self: self, byName: make(map[string]Peer, len(list))}
	for _, p := range list {
		if err := CheckRegion(p.Region); err != nil {
			return nil, fmt.Errorf("peer: %w", err)
		}
		if p.Region == self {
			return nil, fmt.Errorf("peer %s is this deployment's own region", p.Region)
		}
		if _, dup := ps.byName[p.Region]; dup {
			return nil, fmt.Errorf("peer %s is named twice", p.Region)
		}
		if p.Key.IsZero() {
			return nil, fmt.Errorf("peer %s has no public key (--peer-key %s=ed25519:...)", p.Region, p.Region)
		}
		if p.URL != nil {
			if _, err := parsePeerURL(p.URL.String()); err != nil {
				return nil, fmt.Errorf("peer %s: %w", p.Region, err)
			}
			p.URL = cloneURL(p.URL)
		}
		ps.byName[p.Region] = p
	}
	return ps, nil
}

// Self is the deployment's own region.
func (ps *Peers) Self() string { return ps.self }

// Lookup returns the peer of region (a copy).
func (ps *Peers) Lookup(region string) (Peer, bool) {
	p, ok := ps.byName[region]
	if ok && p.URL != nil {
		p.URL = cloneURL(p.URL)
	}
	return p, ok
}

// Regions returns the peers' regions, sorted.
func (ps *Peers) Regions() []string {
	rs := make([]string, 0, len(ps.byName))
	for r := range ps.byName {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	return rs
}

func cloneURL(u *url.URL) *url.URL {
	c := *u
	return &c
}
