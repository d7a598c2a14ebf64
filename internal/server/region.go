package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/coffer-vault/coffer/internal/devmode"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ociapi"
)

// Region mode (--realm-domain) serves the host names the official SDKs
// build for a region of a custom realm, so that an SDK configured with
// only OCI_REGION_METADATA and a CA bundle reaches Coffer with no endpoint
// set anywhere. The templates are the SDKs' own (oci-go-sdk v65
// SetRegion, oci-typescript-sdk serviceEndpointTemplate):
//
//	KmsVaultClient  https://kms.{region}.{secondLevelDomain}
//	VaultsClient    https://vaults.{region}.oci.{secondLevelDomain}
//	SecretsClient   https://secrets.vaults.{region}.oci.{secondLevelDomain}
//	IdentityClient  https://identity.{region}.oci.{secondLevelDomain}
//
// and {secondLevelDomain} is the realm's realmDomainComponent. Vault
// endpoints are <label>-management.kms.{region}.{domain} and
// <label>-crypto.kms.{region}.{domain}, like OCI's.

// realmKey names Coffer's realm in OCI_REGION_METADATA. The SDKs key their
// realm table by it; a name of its own keeps Oracle's realms (oc1, ...)
// untouched in the same process.
const realmKey = "coffer"

var (
	regionName  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	domainLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// realm is the region mode configuration: which names the main listener
// answers to.
type realm struct {
	region string
	// domain is the realm domain as clients write it, with a port when
	// the server is not reached on 443 (the SDKs put it into URLs as it
	// is); host is its name alone, lower case.
	domain, host string
	services     map[string]bool
}

// newRealm checks a realm domain and region and derives the service host
// names.
func newRealm(domain, region string) (*realm, error) {
	host, port := domain, ""
	if h, p, err := net.SplitHostPort(domain); err == nil {
		host, port = h, p
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("--realm-domain %q: bad port", domain)
		}
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	labels := strings.Split(host, ".")
	if len(labels) < 2 || len(host) > 200 {
		return nil, fmt.Errorf("--realm-domain %q: want a DNS name such as coffer.example.com", domain)
	}
	for _, l := range labels {
		if !domainLabel.MatchString(l) {
			return nil, fmt.Errorf("--realm-domain %q: %q is not a DNS label", domain, l)
		}
	}
	if !regionName.MatchString(region) {
		return nil, fmt.Errorf("--region %q: in region mode the region is a DNS label (lower-case letters, digits, hyphens)", region)
	}
	r := &realm{region: region, host: host, domain: host}
	if port != "" {
		r.domain = net.JoinHostPort(host, port)
	}
	r.services = map[string]bool{}
	for _, n := range r.serviceHosts() {
		r.services[n] = true
	}
	return r, nil
}

// serviceHosts are the host names of the four services on the main
// listener.
func (r *realm) serviceHosts() []string {
	return []string{
		"kms." + r.region + "." + r.host,
		"vaults." + r.region + ".oci." + r.host,
		"secrets.vaults." + r.region + ".oci." + r.host,
		"identity." + r.region + ".oci." + r.host,
	}
}

// vaultDomain is the domain vault endpoints live under:
// <label>-management.kms.<vaultDomain>.
func (r *realm) vaultDomain() string { return r.region + "." + r.domain }

// certNames are the names a certificate for the realm must cover: one
// wildcard per level the SDKs and vault endpoints use.
func (r *realm) certNames() []string {
	return []string{
		"*." + r.region + "." + r.host, // kms.
		"*.kms." + r.region + "." + r.host,
		"*." + r.region + ".oci." + r.host, // vaults., identity.
		"*.vaults." + r.region + ".oci." + r.host,
	}
}

// metadata is the OCI_REGION_METADATA value that makes the SDKs build
// this realm's host names for the region.
func (r *realm) metadata() string {
	b, _ := json.Marshal(map[string]string{
		"realmKey":             realmKey,
		"realmDomainComponent": r.domain,
		"regionKey":            strings.ToUpper(r.region),
		"regionIdentifier":     r.region,
	})
	return string(b)
}

// hostKind says how the main listener treats a Host header in region mode.
type hostKind int

const (
	hostUnknown hostKind = iota
	hostService          // one of the four service names: route by path
	hostDirect           // an IP address or localhost: the server itself, by path (CLI, probes)
)

// classify sorts a Host header. Vault endpoint names are matched earlier
// by vaultEndpoints.route.
func (r *realm) classify(hostport string) hostKind {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	switch {
	case r.services[host]:
		return hostService
	case host == "localhost":
		return hostDirect
	}
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return hostDirect
	}
	return hostUnknown
}

var errUnknownHost = errs.E(errs.NoRoute, "this server does not serve that host name")

func unknownHost(w http.ResponseWriter, r *http.Request) {
	ociapi.WriteError(w, r, errUnknownHost)
}

// checkRealm validates region mode against the rest of the configuration
// and returns its realm (nil outside region mode).
func checkRealm(cfg Config) (*realm, error) {
	if cfg.RealmDomain == "" {
		return nil, nil
	}
	if cfg.KMSDomain != "" {
		return nil, errors.New("--kms-domain and --realm-domain exclude each other: in region mode vault endpoints are <id>-management.kms.REGION.REALM-DOMAIN")
	}
	if !cfg.Dev && !cfg.InsecureHTTP && (cfg.TLSCertFile == "" || cfg.TLSKeyFile == "") {
		return nil, errors.New("region mode serves HTTPS, as the SDKs expect: pass --tls-cert and --tls-key (or --insecure-http behind a TLS-terminating proxy, or --dev for a local CA)")
	}
	return newRealm(cfg.RealmDomain, cfg.Region)
}

// devCertificate, in dev region mode without TLS files, makes (or reuses)
// the local CA and a server certificate for every name of the realm, and
// serves it.
func (s *Server) devCertificate() error {
	if s.realm == nil || !s.cfg.Dev || s.cfg.TLSCertFile != "" || s.cfg.TLSKeyFile != "" {
		return nil
	}
	spec := devmode.TLSSpec{
		DNSNames: append(s.realm.certNames(), "localhost"),
		IPs:      []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host, _, err := net.SplitHostPort(s.cfg.Listen); err == nil {
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() && !ip.IsLoopback() {
			spec.IPs = append(spec.IPs, ip)
		}
	}
	files, err := devmode.EnsureTLS(s.cfg.DataDir, spec, s.cfg.Now())
	if err != nil {
		return err
	}
	s.cfg.TLSCertFile, s.cfg.TLSKeyFile, s.caFile = files.Cert, files.Key, files.CA
	return nil
}

// devRealmPort puts the listener's port into the realm domain of a dev
// server that is not on 443, since nothing in front of it maps the port:
// the SDKs then build https://kms.local.DOMAIN:PORT. Outside dev the realm
// domain is taken as given (a proxy or load balancer usually owns 443).
func (s *Server) devRealmPort(addr net.Addr) {
	if s.realm == nil || !s.cfg.Dev || s.realm.domain != s.realm.host {
		return
	}
	if p := portOf(addr.String()); p != "" && p != "443" {
		s.realm.domain = net.JoinHostPort(s.realm.host, p)
	}
}

// vaultDomain is the domain of host-named vault endpoints ("" for
// loopback endpoints).
func (s *Server) vaultDomain() string {
	if s.realm != nil {
		return s.realm.vaultDomain()
	}
	return s.cfg.KMSDomain
}

// RegionMetadata is the OCI_REGION_METADATA value for this server in
// region mode, or "".
func (s *Server) RegionMetadata() string {
	if s.realm == nil {
		return ""
	}
	return s.realm.metadata()
}

// Region is the region name the server serves.
func (s *Server) Region() string { return s.cfg.Region }

// CAFile is the dev CA certificate (PEM) clients trust, in dev region
// mode; "" otherwise.
func (s *Server) CAFile() string { return s.caFile }

// ServiceHosts are the host names of the services in region mode.
func (s *Server) ServiceHosts() []string {
	if s.realm == nil {
		return nil
	}
	return s.realm.serviceHosts()
}

func (s *Server) printRegion(w io.Writer) {
	fmt.Fprintf(w, "Coffer serves region %q of the realm %s. Point *.%s at this server\n", s.realm.region, s.realm.domain, s.realm.host)
	fmt.Fprintf(w, "(wildcard DNS, or one /etc/hosts line per name) and use it from a shell:\n\n")
	fmt.Fprintf(w, "  export OCI_CONFIG_FILE=%s\n", s.ConfigPath)
	fmt.Fprintf(w, "  export OCI_CLI_CONFIG_FILE=%s\n", s.ConfigPath)
	fmt.Fprintf(w, "  export OCI_REGION_METADATA='%s'\n", s.realm.metadata())
	if s.caFile != "" {
		fmt.Fprintf(w, "  export OCI_DEFAULT_CERTS_PATH=%s\n", s.caFile)
		fmt.Fprintf(w, "  export NODE_EXTRA_CA_CERTS=%s\n", s.caFile)
	}
	fmt.Fprintf(w, "  export COFFER_ENDPOINT=%s\n\n", s.URL())
	fmt.Fprintf(w, "The OCI SDKs need no endpoint: with region=%s they call\n", s.realm.region)
	for _, h := range s.realm.serviceHosts() {
		fmt.Fprintf(w, "  https://%s\n", hostWithPort(h, s.realm.domain))
	}
	fmt.Fprintf(w, "and each vault's managementEndpoint and cryptoEndpoint (https://<id>-management.kms.%s).\n", s.realm.vaultDomain())
}

// hostWithPort adds the realm domain's port, if any, to a host name.
func hostWithPort(host, domain string) string {
	if _, p, err := net.SplitHostPort(domain); err == nil {
		return net.JoinHostPort(host, p)
	}
	return host
}
