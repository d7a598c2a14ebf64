package peer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
)

// Envelope layout: version || sender public key || GCM nonce || ciphertext
// and tag.
const (
	envelopeVersion  byte = 1
	envelopeInfo          = "coffer-peer-envelope/v1"
	x25519Size            = 32
	gcmNonceSize          = 12
	gcmTagSize            = 16
	envelopeOverhead      = 1 + x25519Size + gcmNonceSize + gcmTagSize
)

// ErrEnvelope is wrapped by every error of Open: the envelope is short,
// of an unknown version, or does not authenticate (tampered, sealed to
// another key, or bound to another context; these are not told apart).
var ErrEnvelope = errors.New("peer: envelope cannot be opened")

// ErrDestroyed: Open was called on a destroyed EphemeralKey.
var ErrDestroyed = errors.New("peer: ephemeral key destroyed")

// EphemeralKey is a requester's one-time X25519 key: it sends Public with
// a request, opens the envelopes of the answer, and destroys the key, so a
// recorded exchange cannot be opened later. It prints and logs redacted.
type EphemeralKey struct {
	mu   sync.Mutex
	raw  []byte // the private scalar; nil once destroyed
	pub  []byte
	dead bool
}

// NewEphemeralKey makes a fresh key.
func NewEphemeralKey() (*EphemeralKey, error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ephemeral key: %w", err)
	}
	return &EphemeralKey{raw: k.Bytes(), pub: k.PublicKey().Bytes()}, nil
}

// Public returns the 32-byte public key to send to the sealer.
func (k *EphemeralKey) Public() []byte { return append([]byte(nil), k.pub...) }

// Destroy clears the private key; Open fails afterwards. (crypto/ecdh's
// own short-lived copy made by each Open is left to the collector.)
func (k *EphemeralKey) Destroy() {
	k.mu.Lock()
	defer k.mu.Unlock()
	clear(k.raw)
	k.raw = nil
	k.dead = true
}

// String never shows the private key.
func (k *EphemeralKey) String() string { return "peer.EphemeralKey(REDACTED)" }

// GoString never shows the private key.
func (k *EphemeralKey) GoString() string { return k.String() }

// Format never shows the private key, whatever the verb.
func (k *EphemeralKey) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// LogValue never shows the private key.
func (k *EphemeralKey) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// Seal encrypts plaintext to the X25519 public key recipient (32 bytes),
// bound to context (associated data: the caller names the exchange, e.g.
// with ExchangeContext, so an envelope cannot be moved to another one).
// Each envelope has its own sender key: key = HKDF-SHA256(X25519(sender,
// recipient), salt = senderPub || recipient, info = "coffer-peer-envelope/v1"),
// then AES-256-GCM with a random nonce. A malformed or low-order recipient
// key is an error.
func Seal(recipient, context, plaintext []byte) ([]byte, error) {
	rpub, err := ecdh.X25519().NewPublicKey(recipient)
	if err != nil {
		return nil, errors.New("peer: seal: recipient is not an X25519 public key")
	}
	sender, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("peer: seal: %w", err)
	}
	spub := sender.PublicKey().Bytes()
	aead, err := envelopeAEAD(sender, rpub, spub, recipient)
	if err != nil {
		return nil, errors.New("peer: seal: recipient is not a usable X25519 public key")
	}
	out := make([]byte, 1+x25519Size+gcmNonceSize, envelopeOverhead+len(plaintext))
	out[0] = envelopeVersion
	copy(out[1:], spub)
	nonce := out[1+x25519Size:]
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, fmt.Errorf("peer: seal: %w", err)
	}
	return aead.Seal(out, nonce, plaintext, context), nil
}

// Open decrypts an envelope Seal made for k's public key with the same
// context.
func (k *EphemeralKey) Open(sealed, context []byte) ([]byte, error) {
	if len(sealed) < envelopeOverhead {
		return nil, fmt.Errorf("%w: shorter than %d bytes", ErrEnvelope, envelopeOverhead)
	}
	if sealed[0] != envelopeVersion {
		return nil, fmt.Errorf("%w: version %d, not %d", ErrEnvelope, sealed[0], envelopeVersion)
	}
	k.mu.Lock()
	if k.dead {
		k.mu.Unlock()
		return nil, ErrDestroyed
	}
	priv, err := ecdh.X25519().NewPrivateKey(k.raw)
	k.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEnvelope, err)
	}
	spubBytes := sealed[1 : 1+x25519Size]
	spub, err := ecdh.X25519().NewPublicKey(spubBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: does not authenticate", ErrEnvelope)
	}
	aead, err := envelopeAEAD(priv, spub, spubBytes, k.pub)
	if err != nil {
		return nil, fmt.Errorf("%w: does not authenticate", ErrEnvelope)
	}
	nonce := sealed[1+x25519Size : 1+x25519Size+gcmNonceSize]
	pt, err := aead.Open(nil, nonce, sealed[1+x25519Size+gcmNonceSize:], context)
	if err != nil {
		return nil, fmt.Errorf("%w: does not authenticate", ErrEnvelope)
	}
	return pt, nil
}

// envelopeAEAD derives the envelope's AES-256-GCM from the exchange of
// priv and remote, salted with the sender's and recipient's public keys.
func envelopeAEAD(priv *ecdh.PrivateKey, remote *ecdh.PublicKey, senderPub, recipientPub []byte) (cipher.AEAD, error) {
	shared, err := priv.ECDH(remote) // fails on a low-order remote key
	if err != nil {
		return nil, err
	}
	defer clear(shared)
	salt := make([]byte, 0, 2*x25519Size)
	salt = append(append(salt, senderPub...), recipientPub...)
	key, err := hkdf.Key(sha256.New, shared, salt, envelopeInfo, 32)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// ExchangeContext is a context for Seal and Open that names one exchange:
// the responder's and requester's regions and the request's nonce (region
// names and nonces hold no line feed, so the form is unambiguous).
func ExchangeContext(responder, requester, nonce string) []byte {
	return []byte("coffer-peer-exchange/v1\n" + responder + "\n" + requester + "\n" + nonce)
}
