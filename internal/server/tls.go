package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/coffer-vault/coffer/internal/fsperm"
)

// loadTLS reads the server certificate when one is configured.
func loadTLS(cfg Config) (*tls.Config, error) {
	if cfg.TLSCertFile == "" && cfg.TLSKeyFile == "" {
		return nil, nil
	}
	if cfg.TLSCertFile == "" || cfg.TLSKeyFile == "" {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
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
