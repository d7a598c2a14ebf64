package server

import (
	"context"
	"fmt"
	"io"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/keyprotect/pkcs11hsm"
	"github.com/coffer-vault/coffer/internal/keyprotect/software"
	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/ociapi/kmscrypto"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt"
	"github.com/coffer-vault/coffer/internal/seal"
)

// wireKeys registers the KmsManagementClient routes on every vault's
// management endpoint and the KmsCryptoClient routes on its crypto
// endpoint; the vault comes from the endpoint (request context).
func (s *Server) wireKeys(_ context.Context, w *wiring) error {
	mgmt := &kmsmgmt.Handlers{KMS: s.KMS, Compartments: s.Identity, Uploader: s.backupUploader()}
	w.register(w.api, w.mgmt, mgmt.Routes()...)
	crypto := &kmscrypto.Handlers{KMS: s.KMS}
	w.register(w.api, w.crypto, crypto.Routes()...)
	return nil
}

// setKeyProtections builds the key protections: SOFTWARE and the dev-mode
// HSM emulation seal material with the barrier; a configured PKCS#11 module
// is opened for HSM keys.
func (s *Server) setKeyProtections(b *barrier.Barrier) error {
	p := kms.Protections{Software: software.New(b), EmulatedHSM: software.NewEmulatedHSM(b)}
	switch {
	case s.cfg.PKCS11.ModulePath != "":
		hsm, err := pkcs11hsm.New(s.cfg.PKCS11)
		if err != nil {
			return fmt.Errorf("HSM protection: %w", err)
		}
		s.hsm = hsm
		p.HSM = hsm
		s.log.Info("HSM keys are kept in the PKCS#11 token", "pkcs11", s.cfg.PKCS11)
	case s.cfg.Dev:
		p.HSM = p.EmulatedHSM
		s.log.Warn("no PKCS#11 module configured: HSM keys are emulated in software (dev mode); such keys carry the defined tag " +
			kmsmgmt.SystemTagNamespace + "." + kmsmgmt.HSMEmulatedTag + "=true")
	default:
		s.log.Warn("no PKCS#11 module configured: keys with protectionMode HSM are refused; pass --pkcs11-module to use an HSM")
	}
	s.KMS.SetProtections(p)
	s.hsmEmulated = p.HSMEmulated()
	return nil
}

// DefaultSealKeyLabel is the label of the PKCS#11 seal key when none is
// given.
const DefaultSealKeyLabel = "coffer-seal"

// autoUnseal is the token key of a --seal pkcs11 server, nil otherwise.
func (s *Server) autoUnseal() *seal.AutoUnseal {
	if s.cfg.Seal != seal.TypePKCS11 {
		return nil
	}
	label := s.cfg.PKCS11SealKeyLabel
	if label == "" {
		label = DefaultSealKeyLabel
	}
	hsm := s.cfg.PKCS11
	return &seal.AutoUnseal{KeyLabel: label, Generate: s.cfg.PKCS11GenerateKey,
		Open: func(_ context.Context, label string, generate bool) (seal.Wrapper, error) {
			k, err := pkcs11hsm.OpenSealKey(hsm, label, generate)
			if err != nil {
				return nil, err
			}
			return k, nil
		}}
}

// printKeyProtection adds the HSM situation to the dev instructions.
func (s *Server) printKeyProtection(w io.Writer) {
	if s.hsmEmulated {
		fmt.Fprintf(w, "\nHSM keys are EMULATED in software: no PKCS#11 module is configured (--pkcs11-module).\n")
		fmt.Fprintf(w, "Keys created with protectionMode HSM (the SDK's default) carry the defined tag %s.%s=true.\n",
			kmsmgmt.SystemTagNamespace, kmsmgmt.HSMEmulatedTag)
	}
}

// runKeyJobs completes due key and key-version deletions and runs due
// automatic rotations.
func (s *Server) runKeyJobs(ctx context.Context) {
	res, err := s.KMS.RunKeyJobs(ctx)
	if err != nil {
		s.log.Error("key job failed", "error", err)
	}
	if res != (kms.KeyJobResult{}) {
		s.log.Info("key jobs done", "keys_deleted", res.KeysDeleted, "versions_deleted", res.VersionsDeleted,
			"rotated", res.Rotated, "rotations_failed", res.RotationsFailed)
	}
}
