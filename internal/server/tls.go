package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	"github.com/coffer-vault/coffer/internal/fsperm"
)

// certSource serves the certificate last loaded from the configured files.
// ReloadTLS swaps it atomically: handshakes in progress keep the one they
// started with, new ones get the new one, and a file that does not load
// leaves the old certificate in place.
type certSource struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

func (c *certSource) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

// loadTLS reads the server certificate when one is configured.
func (s *Server) loadTLS() (*tls.Config, error) {
	cfg := s.cfg
	if cfg.TLSCertFile == "" && cfg.TLSKeyFile == "" {
		return nil, nil
	}
	if cfg.TLSCertFile == "" || cfg.TLSKeyFile == "" {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	s.certs = &certSource{certFile: cfg.TLSCertFile, keyFile: cfg.TLSKeyFile}
	if err := s.loadCert(); err != nil {
		return nil, err
	}
	return &tls.Config{GetCertificate: s.certs.get, MinVersion: tls.VersionTLS12}, nil
}

func (s *Server) loadCert() error {
	if err := s.requirePrivate(s.certs.keyFile, "TLS key"); err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(s.certs.certFile, s.certs.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS certificate: %w", err)
	}
	s.certs.cur.Store(&cert)
	return nil
}

// ReloadTLS reads --tls-cert and --tls-key again (on SIGHUP), so that a
// renewed certificate is served without a restart. On any error — a
// missing or half-written file, a key that does not match, a key file that
// others may read — the server keeps serving the certificate it has, logs
// the error and returns it.
func (s *Server) ReloadTLS() error {
	if s.certs == nil {
		err := errors.New("no TLS certificate is configured")
		s.log.Warn("TLS certificate not reloaded", "error", err)
		return err
	}
	if err := s.loadCert(); err != nil {
		s.log.Error("TLS certificate not reloaded; serving the previous one", "error", err)
		return err
	}
	s.log.Info("TLS certificate reloaded", "cert", s.certs.certFile)
	return nil
}

func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// requirePrivate refuses a data directory or key that group or others may
// use, as ssh does; a dev server only warns, since its files are throwaway.
func (s *Server) requirePrivate(path, what string) error {
	err := fsperm.CheckPrivate(path, what)
	var open *fsperm.NotPrivateError
	if s.cfg.Dev && errors.As(err, &open) {
		s.log.Warn("dev mode: "+err.Error(), "path", path)
		return nil
	}
	return err
}
