package seal

import (
	"errors"
	"fmt"
)

// UnsealKeyEnv names the environment variable that may hold the root key.
const UnsealKeyEnv = "COFFER_UNSEAL_KEY"

// Sources are the unseal sources a server was started with.
type Sources struct {
	// Seal is --seal: empty, or TypeShamir.
	Seal string
	Dev  bool
	// KeyFile: --unseal-key-file; KeyEnv: the key in UnsealKeyEnv.
	KeyFile, KeyEnv bool
}

// Check refuses contradictory or missing unseal sources.
func (s Sources) Check() error {
	switch s.Seal {
	case "":
	case TypeShamir:
		if s.Dev || s.KeyFile || s.KeyEnv {
			return fmt.Errorf("--seal shamir cannot be combined with --dev, --unseal-key-file or %s: the shares are the only unseal source", UnsealKeyEnv)
		}
		return nil
	default:
		return fmt.Errorf("unknown --seal %q (supported: %s)", s.Seal, TypeShamir)
	}
	if !s.Dev && !s.KeyFile && !s.KeyEnv {
		return errors.New("refusing to start without an unseal source: pass --unseal-key-file FILE or set " + UnsealKeyEnv + " (or use --dev for a throwaway development server)")
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
