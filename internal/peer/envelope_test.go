package peer

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	k, err := NewEphemeralKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Public()) != 32 {
		t.Fatalf("public key of %d bytes", len(k.Public()))
	}
	ctx := ExchangeContext(source, replica, "AAAAAAAAAAAAAAAAAAAAAA")
	for _, pt := range [][]byte{nil, {}, []byte("CANARY-secret-content"), bytes.Repeat([]byte{7}, 1<<16)} {
		sealed, err := Seal(k.Public(), ctx, pt)
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed) != envelopeOverhead+len(pt) || sealed[0] != envelopeVersion {
			t.Fatalf("envelope of %d bytes for %d", len(sealed), len(pt))
		}
		if len(pt) > 4 && bytes.Contains(sealed, pt[:len(pt)/2]) {
			t.Fatal("plaintext visible in the envelope")
		}
		got, err := k.Open(sealed, ctx)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Open = %q %v", got, err)
		}
	}
	// Two envelopes of one plaintext differ (fresh sender key and nonce).
	a, _ := Seal(k.Public(), ctx, []byte("x"))
	b, _ := Seal(k.Public(), ctx, []byte("x"))
	if bytes.Equal(a[1:33], b[1:33]) || bytes.Equal(a, b) {
		t.Fatal("sender key reused")
	}
}

func TestEnvelopeRefusals(t *testing.T) {
	k, _ := NewEphemeralKey()
	ctx := ExchangeContext(source, replica, "AAAAAAAAAAAAAAAAAAAAAA")
	pt := []byte("CANARY-envelope-plaintext")
	sealed, err := Seal(k.Public(), ctx, pt)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrEnvelope) {
			t.Fatalf("%s: %v, want ErrEnvelope", what, err)
		}
		if strings.Contains(err.Error(), "CANARY") {
			t.Fatalf("%s: error shows the plaintext: %v", what, err)
		}
	}
	for _, other := range [][]byte{
		ExchangeContext(source, replica, "AAAAAAAAAAAAAAAAAAAAAB"),
		ExchangeContext(replica, source, "AAAAAAAAAAAAAAAAAAAAAA"),
		nil,
		append(append([]byte{}, ctx...), 0),
	} {
		_, err := k.Open(sealed, other)
		check(fmt.Sprintf("context %q", other), err)
	}
	for i := range sealed {
		for _, bit := range []byte{0x01, 0x80} {
			tampered := append([]byte{}, sealed...)
			tampered[i] ^= bit
			_, err := k.Open(tampered, ctx)
			check(fmt.Sprintf("byte %d bit %#x", i, bit), err)
		}
	}
	for n := range envelopeOverhead + len(pt) {
		_, err := k.Open(sealed[:n], ctx)
		check(fmt.Sprintf("truncated to %d", n), err)
	}
	_, err = k.Open(append(append([]byte{}, sealed...), 0), ctx)
	check("extended", err)

	wrong, _ := NewEphemeralKey()
	_, err = wrong.Open(sealed, ctx)
	check("wrong recipient", err)

	// A low-order sender key in the envelope (all zeros) is refused.
	lowOrder := append([]byte{}, sealed...)
	clear(lowOrder[1:33])
	_, err = k.Open(lowOrder, ctx)
	check("low-order sender", err)
}

func TestSealRefusesBadRecipients(t *testing.T) {
	// Low-order points of Curve25519 (0, 1, and an order-8 point), and
	// wrong lengths.
	order8 := []byte{0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00}
	one := make([]byte, 32)
	one[0] = 1
	for name, r := range map[string][]byte{
		"zero": make([]byte, 32), "one": one, "order 8": order8,
		"short": make([]byte, 31), "long": make([]byte, 33), "nil": nil,
	} {
		if _, err := Seal(r, nil, []byte("x")); err == nil {
			t.Errorf("%s recipient accepted", name)
		}
	}
	// A P-256 key is not an X25519 key.
	p, _ := ecdh.P256().GenerateKey(rand.Reader)
	if _, err := Seal(p.PublicKey().Bytes(), nil, []byte("x")); err == nil {
		t.Error("P-256 recipient accepted")
	}
}

func TestEphemeralKeyDestroy(t *testing.T) {
	k, _ := NewEphemeralKey()
	sealed, _ := Seal(k.Public(), nil, []byte("x"))
	raw := k.raw
	k.Destroy()
	if _, err := k.Open(sealed, nil); !errors.Is(err, ErrDestroyed) {
		t.Fatalf("Open after Destroy: %v", err)
	}
	if !bytes.Equal(raw, make([]byte, len(raw))) {
		t.Fatal("private key not cleared")
	}
	k.Destroy() // twice is fine
}

func TestEphemeralKeyRedacted(t *testing.T) {
	k, _ := NewEphemeralKey()
	secret := append([]byte{}, k.raw...)
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("k", "key", k)
	for what, text := range map[string]string{
		"%v": fmt.Sprintf("%v", k), "%+v": fmt.Sprintf("%+v", k), "%#v": fmt.Sprintf("%#v", k),
		"%x": fmt.Sprintf("%x", k), "%d": fmt.Sprintf("%d", k), "slog": logged.String(),
	} {
		assertNoLeak(t, what, text, secret)
	}
}

func FuzzOpenEnvelope(f *testing.F) {
	k, err := NewEphemeralKey()
	if err != nil {
		f.Fatal(err)
	}
	ctx := []byte("ctx")
	good, _ := Seal(k.Public(), ctx, []byte("hello"))
	f.Add(good, ctx)
	f.Add(good[:40], ctx)
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, sealed, context []byte) {
		pt, err := k.Open(sealed, context)
		if err != nil {
			if pt != nil || !errors.Is(err, ErrEnvelope) {
				t.Fatalf("Open: %v with %q", err, pt)
			}
			return
		}
		// Only our own envelope with its context opens; nothing else can be
		// forged for a key nobody else holds.
		if !bytes.Equal(sealed, good) || !bytes.Equal(context, ctx) || string(pt) != "hello" {
			t.Fatalf("opened a forged envelope: %x %q", sealed, context)
		}
	})
}
