package keyprotect_test

import (
	"context"
	"fmt"

	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/keyprotect/protecttest"
	"github.com/coffer-vault/coffer/internal/keyprotect/software"
)

// A KMS domain's view: generate a version, persist its blob, open it later
// by the ID the ciphertext names, decrypt.
func Example() {
	ctx := context.Background()
	p := software.New(protecttest.NewSealer()) // the server passes its barrier

	shape, err := keyprotect.Shape{Algorithm: keyprotect.AES, Length: 32}.Normalize()
	if err != nil {
		panic(err)
	}
	m, err := p.Generate(ctx, "ocid1.keyversion.oc1..v1", shape)
	if err != nil {
		panic(err)
	}
	stored := map[string]keyprotect.Version{ // the store, keyed by version ID
		"ocid1.keyversion.oc1..v1": {ID: "ocid1.keyversion.oc1..v1", Shape: shape, Blob: m.Blob},
	}

	h, _ := keyprotect.Open(ctx, p, stored["ocid1.keyversion.oc1..v1"])
	aad := keyprotect.AssociatedData{"app": "billing"}
	ct, _ := h.Encrypt("", []byte("card number"), aad)

	info, _ := keyprotect.ParseCiphertext(ct)
	h2, _ := keyprotect.Open(ctx, p, stored[info.KeyVersionID])
	pt, alg, err := h2.Decrypt("", ct, aad)
	fmt.Println(string(pt.Bytes()), alg, err)

	_, _, err = h2.Decrypt("", ct, keyprotect.AssociatedData{"app": "other"})
	fmt.Println(keyprotect.KindOf(err) == keyprotect.KindInvalidParameter, err)

	_, err = keyprotect.Shape{Algorithm: keyprotect.AES, Length: 256}.Normalize()
	fmt.Println(err)
	// Output:
	// card number AES_256_GCM <nil>
	// true the ciphertext could not be decrypted: wrong key or associated data, or corrupted ciphertext
	// keyShape.length 256 is not valid for AES: allowed values are 16, 24, 32 (bytes)
}
