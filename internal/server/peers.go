package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/peer"
	"github.com/coffer-vault/coffer/internal/replication"
)

// PeerPullPath is where a replica region pulls this region's changes.
const PeerPullPath = "/coffer/v1/peer/secrets/pull"

// peerMaxBody bounds a pull request's body (a cursor, a key, at most
// replication.MaxResend OCIDs and replication.MaxVaultAcks
// acknowledgements).
const peerMaxBody = 32 << 10

// devPeerIdentity is the dev-mode peer identity file under the data
// directory.
const devPeerIdentity = "peer-identity.pem"

// peering is what the server knows of its peer regions (docs/replication.md).
type peering struct {
	id       *peer.Identity
	peers    *peer.Peers
	verifier *peer.Verifier
	clients  map[string]*peer.Client
}

// setupPeers loads the peer identity and the peer list. Without peers and
// outside dev mode there is nothing to do; dev mode makes an identity under
// the data directory so `coffer operator peer-identity` can show it.
func (s *Server) setupPeers() error {
	path := s.cfg.PeerIdentityFile
	if path == "" && s.cfg.Dev {
		path = filepath.Join(s.cfg.DataDir, devPeerIdentity)
	}
	if len(s.cfg.Peers) == 0 && peer.CheckRegion(s.cfg.Region) != nil {
		// A region name peers could not use: nothing to replicate with.
		return nil
	}
	if path == "" {
		if len(s.cfg.Peers) > 0 {
			return errors.New("--peer needs --peer-identity FILE: this region's identity toward its peers (create one with `coffer operator peer-identity create --file FILE`)")
		}
		return nil
	}
	var id *peer.Identity
	var err error
	if s.cfg.Dev {
		var created bool
		id, created, err = peer.LoadOrCreateIdentity(path)
		if created {
			s.log.Debug("peer identity created", "file", path)
		}
	} else {
		id, err = peer.LoadIdentity(path)
	}
	if err != nil {
		return fmt.Errorf("peer identity: %w", err)
	}
	peers, err := peer.NewPeers(s.cfg.Region, s.cfg.Peers)
	if err != nil {
		return fmt.Errorf("--region %s and --peer: %w", s.cfg.Region, err)
	}
	hc, err := peerHTTPClient(s.cfg.PeerCAFile)
	if err != nil {
		return err
	}
	p := &peering{id: id, peers: peers, verifier: peer.NewVerifier(s.cfg.Region, peers, s.cfg.Now), clients: map[string]*peer.Client{}}
	for _, region := range peers.Regions() {
		pr, _ := peers.Lookup(region)
		p.clients[region] = peer.NewClient(id, s.cfg.Region, pr, hc)
	}
	s.peering = p
	if len(s.cfg.Peers) > 0 {
		s.log.Info("peer identity", "region", s.cfg.Region, "public_key", id.PublicKey().String(), "peers", peers.Regions())
	}
	return nil
}

// peerHTTPClient trusts the system roots and, when given, the CA in caFile
// for peers' HTTPS. The long poll is bounded by the request's context.
func peerHTTPClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--peer-ca: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--peer-ca: %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}, nil
}

// PeerRegions are the regions this server knows as peers.
func (s *Server) PeerRegions() []string {
	if s.peering == nil {
		return nil
	}
	return s.peering.peers.Regions()
}

// PeerPublicKey is this region's peer identity, "" when it has none.
func (s *Server) PeerPublicKey() string {
	if s.peering == nil {
		return ""
	}
	return s.peering.id.PublicKey().String()
}

// wirePeers serves the pulls of peer regions on the main listener and
// prepares this region's replicator (started by goLive).
func (s *Server) wirePeers(_ context.Context, w *wiring) error {
	if s.peering == nil {
		return nil
	}
	src := &replication.Source{Region: s.cfg.Region, Secrets: s.Secrets, KMS: s.KMS, Feed: s.changes.Load, Seal: peer.Seal}
	w.main.Handle("POST "+PeerPullPath, &peerPullHandler{p: s.peering, src: src, region: s.cfg.Region, log: s.log})
	s.replicator.Store(&replication.Replicator{
		Region: s.cfg.Region, Sources: s.peering.peers.Regions(), Store: s.st, Secrets: s.Secrets,
		Vaults:    &replication.VaultReplicas{KMS: s.KMS, Compartment: s.Identity.TenancyID, Endpoints: s.endpoints.VaultEndpoints, Opened: s.endpoints.Opened},
		Transport: &peerTransport{p: s.peering, self: s.cfg.Region},
		NewKey:    func() (replication.OneTimeKey, error) { return peer.NewEphemeralKey() },
		Log:       s.log, Wait: s.cfg.PeerPollWait, Now: s.cfg.Now,
	})
	return nil
}

// runReplicator follows every peer until ctx ends (goLive).
func (s *Server) runReplicator(ctx context.Context) {
	if r := s.replicator.Load(); r != nil {
		s.jobsDone.Add(1)
		go func() {
			defer s.jobsDone.Done()
			r.Run(ctx)
		}()
	}
}

// ReplicationStatus is how replication from each peer stands on this node.
func (s *Server) ReplicationStatus() []replication.SourceStatus {
	if r := s.replicator.Load(); r != nil {
		return r.Status()
	}
	return nil
}

// peerPullHandler answers a peer's signed pull. Every answer it writes,
// errors included, is signed, so the peer can tell this region's refusal
// from a stranger's.
type peerPullHandler struct {
	p      *peering
	src    *replication.Source
	region string
	log    interface {
		Warn(msg string, args ...any)
	}
}

func (h *peerPullHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	nonce, from := r.Header.Get(peer.HeaderNonce), r.Header.Get(peer.HeaderFrom)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, peerMaxBody))
	if err != nil {
		h.fail(w, from, nonce, errs.Wrap(errs.TooLarge, err, "a pull request is at most %d bytes", peerMaxBody))
		return
	}
	req, err := h.p.verifier.VerifyRequest(r, body)
	if err != nil {
		h.log.Warn("peer request refused", "from", from, "remote", r.RemoteAddr, "err", err)
		h.fail(w, from, nonce, errs.Wrap(errs.Unauthenticated, err, "the request is not signed by a peer of this region"))
		return
	}
	pr, err := replication.DecodePullRequest(body)
	if err != nil {
		h.fail(w, req.From, req.Nonce, err)
		return
	}
	resp, err := h.src.Pull(r.Context(), req.From, peer.ExchangeContext(h.region, req.From, req.Nonce), pr)
	if err != nil {
		h.fail(w, req.From, req.Nonce, err)
		return
	}
	out, err := json.Marshal(resp)
	if err != nil {
		h.fail(w, req.From, req.Nonce, fmt.Errorf("encode pull response: %w", err))
		return
	}
	h.write(w, req.From, req.Nonce, http.StatusOK, out)
}

func (h *peerPullHandler) fail(w http.ResponseWriter, to, nonce string, err error) {
	status, body := ociapi.Classify(err)
	if status >= 500 {
		h.log.Warn("peer pull failed", "to", to, "err", err)
	}
	b, _ := json.Marshal(body)
	h.write(w, to, nonce, status, b)
}

func (h *peerPullHandler) write(w http.ResponseWriter, to, nonce string, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Cache-Control", "no-store")
	h.p.id.SignResponse(w.Header(), h.region, to, nonce, status, body)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// peerTransport carries pulls to peers over signed requests.
type peerTransport struct {
	p    *peering
	self string
}

// Pull implements replication.Transport.
func (t *peerTransport) Pull(ctx context.Context, source string, req replication.PullRequest) (*replication.PullResponse, []byte, error) {
	c := t.p.clients[source]
	if c == nil {
		return nil, nil, fmt.Errorf("replication: %s is not a peer", source)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, nil, err
	}
	wait := time.Duration(req.WaitSeconds)*time.Second + 30*time.Second
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	ex, err := c.Exchange(ctx, PeerPullPath, body)
	if err != nil {
		return nil, nil, err
	}
	if ex.Status != http.StatusOK {
		var eb ociapi.ErrorBody
		_ = json.Unmarshal(ex.Body, &eb)
		return nil, nil, fmt.Errorf("replication: %s answered %d %s: %s", source, ex.Status, eb.Code, eb.Message)
	}
	var resp replication.PullResponse
	if err := json.Unmarshal(ex.Body, &resp); err != nil {
		return nil, nil, fmt.Errorf("replication: the answer of %s did not decode: %w", source, err)
	}
	return &resp, peer.ExchangeContext(source, t.self, ex.Nonce), nil
}

// regionReplication is what the operator API reports of replication.
type regionReplication struct{ s *Server }

func (r regionReplication) Region() string        { return r.s.cfg.Region }
func (r regionReplication) PeerPublicKey() string { return r.s.PeerPublicKey() }
func (r regionReplication) PeerRegions() []string { return r.s.PeerRegions() }
func (r regionReplication) ReplicationStatus() []replication.SourceStatus {
	return r.s.ReplicationStatus()
}
