//go:build cgo

package pkcs11hsm

import (
	"crypto"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/miekg/pkcs11"
)

// RSA-OAEP with SHA-256 and SoftHSM2.
//
// SoftHSM2 (2.6.x) accepts CKM_RSA_PKCS_OAEP only with hashAlg CKM_SHA_1 and
// MGF1-SHA1; with SHA-256 it answers CKR_ARGUMENTS_BAD. OCI needs
// RSA_OAEP_SHA_256 for Decrypt and, above all, for unwrapping imported keys
// with the vault's wrapping key. When the token refuses the mechanism
// parameters, rsaDecrypter does the RSA private-key operation in the token
// with CKM_RSA_X_509 (raw RSA: the private key never leaves the token) and
// removes the OAEP encoding (RFC 8017 section 7.1.2) on the host, in
// constant time, as crypto/rsa does. RSA_OAEP_SHA_1 always runs entirely in
// the token. Protection.OAEPDecodedOnHost reports whether this has happened,
// for the server to log. Tokens that support OAEP-SHA-256 natively never take
// this path.

type rsaDecrypter struct {
	p     *Protection
	inner crypto.Decrypter
	id    []byte
	label []byte
	size  int
}

func (d *rsaDecrypter) Public() crypto.PublicKey { return d.inner.Public() }

func (d *rsaDecrypter) Decrypt(rand io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	o, ok := opts.(*rsa.OAEPOptions)
	if !ok {
		return nil, errors.New("pkcs11 RSA: only OAEP decryption is offered")
	}
	if o.MGFHash != 0 && o.MGFHash != o.Hash {
		return nil, errors.New("pkcs11 RSA: OAEP MGF1 hash must equal the OAEP hash")
	}
	if len(o.Label) != 0 {
		return nil, errors.New("pkcs11 RSA: OAEP labels are not offered")
	}
	if !d.p.oaepOnHost.Load() || o.Hash == crypto.SHA1 {
		pt, err := d.inner.Decrypt(rand, ciphertext, &rsa.OAEPOptions{Hash: o.Hash})
		if err == nil || !(isP11(err, pkcs11.CKR_ARGUMENTS_BAD) || isP11(err, pkcs11.CKR_MECHANISM_PARAM_INVALID)) || o.Hash == crypto.SHA1 {
			return pt, err
		}
		d.p.oaepOnHost.Store(true)
	}
	em, err := d.p.rawRSA(d.id, d.label, ciphertext)
	if err != nil {
		return nil, err
	}
	defer clear(em)
	if len(em) > d.size {
		return nil, errors.New("pkcs11 RSA: token returned too much data")
	}
	if len(em) < d.size {
		em = append(make([]byte, d.size-len(em)), em...)
	}
	return oaepDecode(o.Hash.New(), em)
}

// rawRSA runs CKM_RSA_X_509 decryption with the private key (id, label) in
// the token.
func (p *Protection) rawRSA(id, label, ciphertext []byte) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.raw == nil {
		return nil, errors.New("protection is closed")
	}
	sh, err := p.raw.OpenSession(p.slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	defer p.raw.CloseSession(sh)
	if err := p.raw.FindObjectsInit(sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}); err != nil {
		return nil, fmt.Errorf("C_FindObjectsInit: %w", err)
	}
	objs, _, err := p.raw.FindObjects(sh, 2)
	_ = p.raw.FindObjectsFinal(sh)
	if err != nil {
		return nil, fmt.Errorf("C_FindObjects: %w", err)
	}
	if len(objs) != 1 {
		return nil, fmt.Errorf("pkcs11 RSA: %d private keys with this id", len(objs))
	}
	if err := p.raw.DecryptInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_X_509, nil)}, objs[0]); err != nil {
		return nil, fmt.Errorf("C_DecryptInit(CKM_RSA_X_509): %w", err)
	}
	out, err := p.raw.Decrypt(sh, ciphertext)
	if err != nil {
		return nil, fmt.Errorf("C_Decrypt(CKM_RSA_X_509): %w", err)
	}
	return out, nil
}

// OAEPDecodedOnHost reports whether the token refused RSA-OAEP with a hash
// other than SHA-1 and this protection has since been decoding OAEP on the
// host after a raw RSA operation in the token (see the comment above).
func (p *Protection) OAEPDecodedOnHost() bool { return p.oaepOnHost.Load() }

var errOAEP = errors.New("pkcs11 RSA: OAEP decoding failed")

// oaepDecode is EME-OAEP decoding with an empty label (RFC 8017 section
// 7.1.2 step 3), in constant time with respect to the contents of em,
// following crypto/rsa.
func oaepDecode(h hash.Hash, em []byte) ([]byte, error) {
	hLen := h.Size()
	k := len(em)
	if k < 2*hLen+2 {
		return nil, errOAEP
	}
	h.Reset()
	lHash := h.Sum(nil)
	firstByteIsZero := subtle.ConstantTimeByteEq(em[0], 0)
	seed := append([]byte(nil), em[1:hLen+1]...)
	db := append([]byte(nil), em[hLen+1:]...)
	defer clear(seed)
	defer clear(db)
	mgf1XOR(seed, h, db)
	mgf1XOR(db, h, seed)
	lHashGood := subtle.ConstantTimeCompare(lHash, db[:hLen])
	rest := db[hLen:]
	lookingForIndex, index, invalid := 1, 0, 0
	for i := range rest {
		equals0 := subtle.ConstantTimeByteEq(rest[i], 0)
		equals1 := subtle.ConstantTimeByteEq(rest[i], 1)
		index = subtle.ConstantTimeSelect(lookingForIndex&equals1, i, index)
		lookingForIndex = subtle.ConstantTimeSelect(equals1, 0, lookingForIndex)
		invalid = subtle.ConstantTimeSelect(lookingForIndex&^equals0, 1, invalid)
	}
	if firstByteIsZero&lHashGood&^invalid&^lookingForIndex != 1 {
		return nil, errOAEP
	}
	return append([]byte(nil), rest[index+1:]...), nil
}

// mgf1XOR xors out with MGF1(seed) (RFC 8017 appendix B.2.1).
func mgf1XOR(out []byte, h hash.Hash, seed []byte) {
	var counter [4]byte
	done := 0
	for done < len(out) {
		h.Reset()
		h.Write(seed)
		h.Write(counter[:])
		digest := h.Sum(nil)
		for i := 0; i < len(digest) && done < len(out); i++ {
			out[done] ^= digest[i]
			done++
		}
		for i := 3; i >= 0; i-- {
			counter[i]++
			if counter[i] != 0 {
				break
			}
		}
	}
}
