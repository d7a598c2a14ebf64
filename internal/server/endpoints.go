package server

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/ocid"
)

// vaultEndpoints gives every vault a management and a crypto endpoint and
// routes requests that arrive on them to the vault's handlers.
//
// Two schemes, chosen by configuration:
//
//   - loopback (dev, the default): each vault owns two loopback addresses
//     derived from its slot (127.0.1.0 and up; Linux routes all of 127/8 to
//     the loopback interface), listening on the main port. The unmodified
//     SDK reaches them with no DNS or /etc/hosts changes, and the listener a
//     request arrives on names the vault.
//   - domain: endpoints are https://<label>-management.kms.<domain> and
//     <label>-crypto.kms.<domain> behind wildcard DNS; the main listener
//     routes by Host header.
type vaultEndpoints struct {
	kms    *kms.Service
	log    *slog.Logger
	domain string      // non-empty: host-name routing, e.g. "example.com" or "example.com:8443"
	tls    *tls.Config // nil: plain HTTP on loopback endpoints
	host   string      // the main listener's IP (loopback mode)
	port   string
	mgmt   http.Handler
	crypto http.Handler

	mu        sync.Mutex
	listeners map[int][]*http.Server // by slot
	byLabel   map[string]string      // host label -> vault ID
	closed    bool
}

func (e *vaultEndpoints) label(v kms.Vault) string {
	short := ocid.Short(v.ID)
	if len(short) > 20 {
		short = short[:20]
	}
	return short
}

// slotAddrs returns the management and crypto loopback IPs of a slot.
func slotAddrs(slot int) (mgmt, crypto string) {
	ip := func(n uint32) string {
		b := make([]byte, 4)
		binary.BigEndian.PutUint32(b, 127<<24+256+n)
		return net.IP(b).String()
	}
	return ip(uint32(2 * slot)), ip(uint32(2*slot + 1))
}

// VaultEndpoints implements kmsvault.Endpoints.
func (e *vaultEndpoints) VaultEndpoints(v kms.Vault) (string, string) {
	if e.domain != "" {
		l := e.label(v)
		// TLS ends at Coffer or at a proxy in front of it: host names are
		// always https.
		return "https://" + l + "-management.kms." + e.domain, "https://" + l + "-crypto.kms." + e.domain
	}
	scheme := "http"
	if e.tls != nil {
		scheme = "https"
	}
	m, c := slotAddrs(v.Slot)
	return scheme + "://" + net.JoinHostPort(m, e.port), scheme + "://" + net.JoinHostPort(c, e.port)
}

// Opened implements kmsvault.Endpoints: it starts serving a vault's
// endpoints.
func (e *vaultEndpoints) Opened(ctx context.Context, v kms.Vault) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("server is stopping")
	}
	e.byLabel[e.label(v)] = v.ID
	if e.domain != "" || v.State == kms.VaultDeleted {
		return nil
	}
	if _, ok := e.listeners[v.Slot]; ok {
		return nil
	}
	m, c := slotAddrs(v.Slot)
	var servers []*http.Server
	for _, pair := range []struct {
		ip string
		h  http.Handler
	}{{m, e.mgmt}, {c, e.crypto}} {
		ln, err := net.Listen("tcp", net.JoinHostPort(pair.ip, e.port))
		if err != nil {
			for _, s := range servers {
				_ = s.Close()
			}
			return fmt.Errorf("open endpoint of vault %s on %s: %w", v.ID, pair.ip, err)
		}
		if e.tls != nil {
			ln = tls.NewListener(ln, e.tls)
		}
		srv := newHTTPServer(withVault(v.ID, pair.h))
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				e.log.Error("vault endpoint stopped", "vault", v.ID, "error", err)
			}
		}()
		servers = append(servers, srv)
	}
	e.listeners[v.Slot] = servers
	return nil
}

func withVault(vaultID string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(ociapi.WithVault(r.Context(), vaultID)))
	})
}

// route returns the vault handler for a Host header in domain mode, or nil.
func (e *vaultEndpoints) route(ctx context.Context, host string) http.Handler {
	if e.domain == "" {
		return nil
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	domain := e.domain
	if h, _, err := net.SplitHostPort(domain); err == nil {
		domain = h
	}
	suffix := ".kms." + strings.ToLower(domain)
	if !strings.HasSuffix(host, suffix) {
		return nil
	}
	name := strings.TrimSuffix(host, suffix)
	var label string
	var h http.Handler
	switch {
	case strings.HasSuffix(name, "-management"):
		label, h = strings.TrimSuffix(name, "-management"), e.mgmt
	case strings.HasSuffix(name, "-crypto"):
		label, h = strings.TrimSuffix(name, "-crypto"), e.crypto
	default:
		return nil
	}
	e.mu.Lock()
	id, ok := e.byLabel[label]
	e.mu.Unlock()
	if !ok {
		// Another node may have made the vault: look again.
		vaults, err := e.kms.AllVaults(ctx)
		if err == nil {
			for _, v := range vaults {
				if e.label(v) == label {
					e.mu.Lock()
					e.byLabel[label] = v.ID
					e.mu.Unlock()
					id, ok = v.ID, true
				}
			}
		}
	}
	if !ok {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ociapi.WriteError(w, r, errNoVaultEndpoint)
		})
	}
	return withVault(id, h)
}

func (e *vaultEndpoints) close(ctx context.Context) {
	e.mu.Lock()
	e.closed = true
	all := e.listeners
	e.listeners = map[int][]*http.Server{}
	e.mu.Unlock()
	for _, servers := range all {
		for _, s := range servers {
			_ = s.Shutdown(ctx)
		}
	}
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	if _, err := strconv.Atoi(p); err != nil {
		return ""
	}
	return p
}
