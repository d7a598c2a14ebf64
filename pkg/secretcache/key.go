package secretcache

import (
	"errors"
	"fmt"
	"strconv"
)

// Stage names a secret version stage. A Key with no stage, version number
// or version name reads StageCurrent, as the service does.
type Stage string

// The stages a bundle can be read at.
const (
	StageCurrent    Stage = "CURRENT"
	StagePending    Stage = "PENDING"
	StageLatest     Stage = "LATEST"
	StagePrevious   Stage = "PREVIOUS"
	StageDeprecated Stage = "DEPRECATED"
)

// ErrInvalidKey is returned for a Key that names no secret, names it twice
// (by OCID and by vault + name), or selects more than one version.
var ErrInvalidKey = errors.New("secretcache: invalid key")

// Key identifies one cached secret version: a secret (by OCID, or by vault
// OCID + name) and which version of it (a stage, a version number or a
// version name; CURRENT when none is given). Keys are comparable values;
// two Keys that select the same thing the same way share one cache entry.
// Build them with [ByID] or [ByName] and the With methods.
type Key struct {
	SecretID      string
	VaultID       string
	Name          string
	Stage         Stage
	VersionNumber int64
	VersionName   string
}

// ByID selects a secret by its OCID.
func ByID(secretID string) Key { return Key{SecretID: secretID} }

// ByName selects a secret by the vault that holds it and its name, which is
// unique within the vault.
func ByName(vaultID, name string) Key { return Key{VaultID: vaultID, Name: name} }

// AtStage returns k reading the version at stage s.
func (k Key) AtStage(s Stage) Key {
	k.Stage, k.VersionNumber, k.VersionName = s, 0, ""
	return k
}

// AtVersion returns k reading version number n.
func (k Key) AtVersion(n int64) Key {
	k.Stage, k.VersionNumber, k.VersionName = "", n, ""
	return k
}

// AtVersionName returns k reading the version with the given name.
func (k Key) AtVersionName(name string) Key {
	k.Stage, k.VersionNumber, k.VersionName = "", 0, name
	return k
}

// normalize checks k and makes the default stage explicit so that ByID(x)
// and ByID(x).AtStage(StageCurrent) share an entry.
func (k Key) normalize() (Key, error) {
	byID := k.SecretID != ""
	byName := k.VaultID != "" || k.Name != ""
	switch {
	case byID && byName:
		return k, fmt.Errorf("%w: both a secret OCID and a vault + name", ErrInvalidKey)
	case !byID && (k.VaultID == "" || k.Name == ""):
		return k, fmt.Errorf("%w: need a secret OCID, or a vault OCID and a name", ErrInvalidKey)
	}
	n := 0
	if k.Stage != "" {
		n++
		switch k.Stage {
		case StageCurrent, StagePending, StageLatest, StagePrevious, StageDeprecated:
		default:
			return k, fmt.Errorf("%w: unknown stage %q", ErrInvalidKey, k.Stage)
		}
	}
	if k.VersionNumber != 0 {
		n++
		if k.VersionNumber < 0 {
			return k, fmt.Errorf("%w: negative version number", ErrInvalidKey)
		}
	}
	if k.VersionName != "" {
		n++
	}
	switch {
	case n > 1:
		return k, fmt.Errorf("%w: more than one of stage, version number and version name", ErrInvalidKey)
	case n == 0:
		k.Stage = StageCurrent
	}
	return k, nil
}

// String describes the key for messages and logs; it holds identifiers
// only, never content.
func (k Key) String() string {
	var s string
	if k.SecretID != "" {
		s = k.SecretID
	} else {
		s = k.VaultID + "/" + k.Name
	}
	switch {
	case k.VersionNumber != 0:
		return s + "@v" + strconv.FormatInt(k.VersionNumber, 10)
	case k.VersionName != "":
		return s + "@name:" + k.VersionName
	case k.Stage != "":
		return s + "@" + string(k.Stage)
	}
	return s
}
