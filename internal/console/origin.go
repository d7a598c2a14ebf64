package console

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// ParseOrigin checks a public origin (--console-origin): the scheme, host
// and port a browser reaches the console at, when that is not the server's
// own listener (behind a TLS-terminating proxy). It returns it as browsers
// send it in Origin: lower case, without a default port. Only http and
// https, a host name or IP address, an optional port; no user, path (but
// "/"), query or fragment.
func ParseOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", errors.New("not a URL like https://vault.example.com")
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https":
		return "", errors.New("the scheme must be http or https, as in https://vault.example.com")
	case u.Opaque != "" || u.Host == "":
		return "", errors.New("a host is required, as in https://vault.example.com")
	case u.User != nil:
		return "", errors.New("a user name or password has no place in an origin")
	case u.Path != "" && u.Path != "/", u.RawPath != "":
		return "", errors.New("an origin has no path: scheme, host and port only")
	case u.RawQuery != "" || u.ForceQuery:
		return "", errors.New("an origin has no query")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return "", errors.New("an origin has no fragment")
	}
	host, port := u.Hostname(), u.Port()
	if strings.HasSuffix(u.Host, ":") {
		return "", errors.New("the port is empty")
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return "", fmt.Errorf("the port must be a number from 1 to 65535")
		}
		if (scheme == "https" && n == 443) || (scheme == "http" && n == 80) {
			port = ""
		}
	}
	if strings.HasPrefix(u.Host, "[") {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", errors.New("the host in brackets must be an IPv6 address")
		}
		host = "[" + a.String() + "]"
	} else if a, err := netip.ParseAddr(host); err == nil {
		if !a.Is4() {
			return "", errors.New("an IPv6 host goes in brackets")
		}
	} else if !hostName(host) {
		return "", errors.New("the host must be a DNS name (letters, digits, hyphens, dots) or an IP address")
	}
	out := scheme + "://" + strings.ToLower(host)
	if port != "" {
		out += ":" + port
	}
	return out, nil
}

// hostName reports whether s is a DNS name: dot-separated labels of
// letters, digits and inner hyphens, 63 bytes each, 253 in all.
func hostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// requestOrigin is the origin a request was sent to as the server sees
// it: the Host header, over TLS or not.
func requestOrigin(hostHeader string, tls bool) string {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return scheme + "://" + strings.ToLower(hostHeader)
}
