package seal

import (
	"errors"
	"fmt"
)

// UnsealKeyEnv names the environment variable that may hold the root key.
const UnsealKeyEnv = "COFFER_UNSEAL_KEY"

// Sources are the unseal sources a server was started with.
type Sources struct {
	// Seal is --seal: empty, TypeShamir or TypePKCS11.
	Seal string
	Dev  bool
	// KeyFile: --unseal-key-file; KeyEnv: the key in UnsealKeyEnv.
	KeyFile, KeyEnv bool
	// PKCS11Module: --pkcs11-module is set (TypePKCS11 needs it).
	PKCS11Module bool
}

// Check refuses contradictory or missing unseal sources.
func (s Sources) Check() error {
	switch s.Seal {
	case "":
	case TypeShamir, TypePKCS11:
		if s.Dev || s.KeyFile || s.KeyEnv {
			return fmt.Errorf("--seal %s cannot be combined with --dev, --unseal-key-file or %s: the seal is the only unseal source", s.Seal, UnsealKeyEnv)
		}
		if s.Seal == TypePKCS11 && !s.PKCS11Module {
			return errors.New("--seal pkcs11 needs --pkcs11-module and --pkcs11-token-label (the PIN in COFFER_PKCS11_PIN)")
		}
		return nil
	default:
		return fmt.Errorf("unknown --seal %q (supported: %s, %s)", s.Seal, TypeShamir, TypePKCS11)
	}
	if !s.Dev && !s.KeyFile && !s.KeyEnv {
		return errors.New("refusing to start without an unseal source: pass --unseal-key-file FILE or set " + UnsealKeyEnv + ", or --seal shamir|pkcs11 (or use --dev for a throwaway development server)")
	}
	return nil
}

// Type is how a server with these sources holds its root key.
func (s Sources) Type() string {
	switch {
	case s.Seal != "":
		return s.Seal
	case s.KeyFile || s.KeyEnv:
		return TypeKeyFile
	}
	return TypeDev
}
