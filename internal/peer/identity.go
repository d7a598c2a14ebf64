package peer

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/coffer-vault/coffer/internal/fsperm"
)

// identityFile names the file in errors and in fsperm's chmod hint.
const identityFile = "peer identity file"

// maxIdentityFile bounds what LoadIdentity reads: a PKCS#8 Ed25519 key in
// PEM is about 120 bytes.
const maxIdentityFile = 16 << 10

// Identity is a deployment's peer identity: an Ed25519 private key. It
// prints, logs and marshals as its public key only.
type Identity struct {
	priv ed25519.PrivateKey
}

// CreateIdentity makes a new identity and writes it to path as PEM
// (PKCS#8, block type "PRIVATE KEY") with mode 0600. It refuses to
// overwrite an existing file.
func CreateIdentity(path string) (*Identity, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", identityFile, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", identityFile, err)
	}
	block := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	clear(der)
	defer clear(block)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", identityFile, err)
	}
	_, err = f.Write(block)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("create %s %s: %w", identityFile, path, err)
	}
	return &Identity{priv: priv}, nil
}

// LoadIdentity reads the identity CreateIdentity wrote. It refuses a file
// that group or others may access (a *fsperm.NotPrivateError that tells
// the chmod), anything but one PEM "PRIVATE KEY" block, and a key that is
// not Ed25519.
func LoadIdentity(path string) (*Identity, error) {
	if err := fsperm.CheckPrivate(path, identityFile); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", identityFile, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxIdentityFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", identityFile, path, err)
	}
	defer clear(data)
	if len(data) > maxIdentityFile {
		return nil, fmt.Errorf("%s %s is larger than %d bytes: not a peer identity", identityFile, path, maxIdentityFile)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%s %s must hold exactly one PEM block of type PRIVATE KEY", identityFile, path)
	}
	defer clear(block.Bytes)
	// The parser's own errors are not wrapped: they describe the DER, and
	// nothing of a key should reach a message.
	// x509 ignores bytes after the DER; a damaged file could still parse.
	var outer asn1.RawValue
	rest, err = asn1.Unmarshal(block.Bytes, &outer)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%s %s does not hold a PKCS#8 private key", identityFile, path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s %s does not hold a PKCS#8 private key", identityFile, path)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s %s holds a %s key; a peer identity is Ed25519", identityFile, path, keyKind(key))
	}
	return &Identity{priv: priv}, nil
}

func keyKind(key any) string {
	t := fmt.Sprintf("%T", key) // *rsa.PrivateKey, *ecdsa.PrivateKey, *ecdh.PrivateKey
	t = strings.TrimPrefix(t, "*")
	t, _, _ = strings.Cut(t, ".")
	return strings.ToUpper(t)
}

// LoadOrCreateIdentity loads the identity at path, or creates it when
// there is no file there; created says which. Dev mode uses it.
func LoadOrCreateIdentity(path string) (id *Identity, created bool, err error) {
	id, err = LoadIdentity(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return id, false, err
	}
	id, err = CreateIdentity(path)
	if errors.Is(err, fs.ErrExist) { // another process created it meanwhile
		id, err = LoadIdentity(path)
		return id, false, err
	}
	return id, err == nil, err
}

// PublicKey is the public half of the identity.
func (id Identity) PublicKey() PublicKey {
	var k PublicKey
	if len(id.priv) != ed25519.PrivateKeySize {
		return k
	}
	copy(k.k[:], id.priv.Public().(ed25519.PublicKey))
	return k
}

// String shows the public key only.
func (id Identity) String() string { return "peer.Identity(" + id.PublicKey().String() + ")" }

// GoString shows the public key only.
func (id Identity) GoString() string { return id.String() }

// Format shows the public key only, whatever the verb (%d or %x of the
// struct would otherwise print the private key's bytes).
func (id Identity) Format(f fmt.State, _ rune) { io.WriteString(f, id.String()) }

// LogValue shows the public key only.
func (id Identity) LogValue() slog.Value { return slog.StringValue(id.String()) }

// MarshalJSON writes the public key only.
func (id Identity) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"publicKey": id.PublicKey().String()})
}

// sign panics on an Identity not made by CreateIdentity or LoadIdentity:
// signing with no key is a programming error, never a runtime condition.
func (id *Identity) sign(msg []byte) []byte {
	if len(id.priv) != ed25519.PrivateKeySize {
		panic("peer: signing with a zero Identity; use CreateIdentity or LoadIdentity")
	}
	return ed25519.Sign(id.priv, msg)
}

// publicKeyPrefix starts the text form of a PublicKey.
const publicKeyPrefix = "ed25519:"

// PublicKey is an Ed25519 public key of a peer. The zero value is no key.
type PublicKey struct {
	k [ed25519.PublicKeySize]byte
}

// ParsePublicKey parses the form String writes: "ed25519:" and 32 bytes
// in standard base64 with padding, nothing else (no spaces, no line
// breaks, no other encoding of the same bytes). The all-zero key is
// refused.
func ParsePublicKey(s string) (PublicKey, error) {
	var k PublicKey
	b64, ok := strings.CutPrefix(s, publicKeyPrefix)
	if !ok {
		return k, errors.New(`peer public key must start with "ed25519:"`)
	}
	want := base64.StdEncoding.EncodedLen(len(k.k))
	if len(b64) != want {
		return k, fmt.Errorf("peer public key must have %d base64 characters after \"ed25519:\", not %d", want, len(b64))
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(raw) != len(k.k) || base64.StdEncoding.EncodeToString(raw) != b64 {
		return k, errors.New("peer public key is not 32 bytes in standard base64 with padding")
	}
	copy(k.k[:], raw)
	if k.IsZero() {
		return k, errors.New("peer public key is all zeros")
	}
	return k, nil
}

// String returns "ed25519:" and the key in standard base64 with padding.
func (k PublicKey) String() string {
	if k.IsZero() {
		return "ed25519:(none)"
	}
	return publicKeyPrefix + base64.StdEncoding.EncodeToString(k.k[:])
}

// IsZero reports whether k is no key.
func (k PublicKey) IsZero() bool { return k == PublicKey{} }

// Equal compares in constant time.
func (k PublicKey) Equal(o PublicKey) bool { return subtle.ConstantTimeCompare(k.k[:], o.k[:]) == 1 }

// MarshalText writes String's form.
func (k PublicKey) MarshalText() ([]byte, error) {
	if k.IsZero() {
		return nil, errors.New("peer public key is not set")
	}
	return []byte(k.String()), nil
}

// UnmarshalText parses ParsePublicKey's form.
func (k *PublicKey) UnmarshalText(b []byte) error {
	p, err := ParsePublicKey(string(b))
	if err != nil {
		return err
	}
	*k = p
	return nil
}

func (k PublicKey) verify(msg, sig []byte) bool {
	return !k.IsZero() && ed25519.Verify(ed25519.PublicKey(k.k[:]), msg, sig)
}
