package ociapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/errs"
)

func publicPEM(t *testing.T, typ string, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestWorkloadKey(t *testing.T) {
	k2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := publicPEM(t, "PUBLIC KEY", &k2048.PublicKey)
	for name, tc := range map[string]struct {
		value string
		ok    bool
	}{
		"rsa 2048":          {good, true},
		"rsa 2048, newline": {"\n" + good + "\n", true},
		"rsa 1024":          {publicPEM(t, "PUBLIC KEY", &k1024.PublicKey), false},
		"ecdsa":             {publicPEM(t, "PUBLIC KEY", &ec.PublicKey), false},
		"pkcs1 type":        {strings.ReplaceAll(good, "PUBLIC KEY", "RSA PUBLIC KEY"), false},
		"not pem":           {"nope", false},
		"empty":             {"", false},
		"garbage der":       {string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("xx")})), false},
	} {
		pub, err := workloadKey("publicKey", tc.value)
		switch {
		case tc.ok && (err != nil || !pub.Equal(&k2048.PublicKey)):
			t.Errorf("%s: %v", name, err)
		case !tc.ok && (pub != nil || !errs.Is(err, errs.Invalid) || !strings.HasPrefix(errMsg(err), "publicKey: ")):
			t.Errorf("%s: %v %v, want an Invalid error naming publicKey", name, pub, err)
		}
	}
}

func TestLifetime(t *testing.T) {
	const max = 24 * time.Hour
	for _, tc := range []struct {
		seconds int64
		want    time.Duration
		ok      bool
	}{
		{0, 0, true},
		{1, time.Second, true},
		{86400, max, true},
		{86401, 0, false},
		{-1, 0, false},
		// Times 1e9 this wraps to exactly 3600 s: refused, not an hour.
		{3600 + 1<<55, 0, false},
		{math.MaxInt64, 0, false},
		{math.MinInt64, 0, false},
	} {
		got, err := lifetime("ttlInSeconds", tc.seconds, max)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("%d: %v %v, want %v ok=%v", tc.seconds, got, err, tc.want, tc.ok)
		}
		if err != nil && (!errs.Is(err, errs.Invalid) || !strings.Contains(errMsg(err), "ttlInSeconds")) {
			t.Errorf("%d: %v, want an Invalid error naming ttlInSeconds", tc.seconds, err)
		}
	}
}

func errMsg(err error) string {
	var e *errs.Error
	if errors.As(err, &e) {
		return e.Msg
	}
	return ""
}

// Check answers the compartment first, then the key, then the lifetime,
// and passes the compartment lookup's own error through.
func TestWorkloadBindingCheck(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := WorkloadBinding{CompartmentID: "ocid1.compartment.oc1..c", PublicKey: publicPEM(t, "PUBLIC KEY", &k.PublicKey),
		LifetimeField: "validityInSeconds", Lifetime: 600, MaxLifetime: time.Hour}
	lookupFailed := errors.New("store down")
	exists := func(_ context.Context, id string) (bool, error) {
		switch id {
		case good.CompartmentID:
			return true, nil
		case "broken":
			return false, lookupFailed
		}
		return false, nil
	}
	pub, d, err := good.Check(context.Background(), exists)
	if err != nil || !pub.Equal(&k.PublicKey) || d != 10*time.Minute {
		t.Fatalf("good: %v %v %v", pub, d, err)
	}
	with := func(f func(*WorkloadBinding)) WorkloadBinding { b := good; f(&b); return b }
	for name, tc := range map[string]struct {
		b  WorkloadBinding
		is func(error) bool
	}{
		"unknown compartment": {with(func(b *WorkloadBinding) { b.CompartmentID, b.PublicKey = "none", "nope" }), isKind(errs.RelatedNotFound)},
		"lookup fails":        {with(func(b *WorkloadBinding) { b.CompartmentID = "broken" }), func(err error) bool { return errors.Is(err, lookupFailed) }},
		"bad key":             {with(func(b *WorkloadBinding) { b.PublicKey, b.Lifetime = "nope", -1 }), isKind(errs.Invalid)},
		"too long":            {with(func(b *WorkloadBinding) { b.Lifetime = 3601 }), isKind(errs.Invalid)},
	} {
		pub, _, err := tc.b.Check(context.Background(), exists)
		switch {
		case pub != nil || err == nil:
			t.Errorf("%s: accepted", name)
		case !tc.is(err):
			t.Errorf("%s: unexpected error %v", name, err)
		}
	}
	if _, _, err := with(func(b *WorkloadBinding) { b.PublicKey = "nope" }).Check(context.Background(), exists); !strings.Contains(errMsg(err), "publicKey") {
		t.Errorf("bad key error does not name publicKey: %v", err)
	}
	if _, _, err := with(func(b *WorkloadBinding) { b.Lifetime = -1 }).Check(context.Background(), exists); !strings.Contains(errMsg(err), "validityInSeconds") {
		t.Errorf("bad lifetime error does not name validityInSeconds: %v", err)
	}
}

func isKind(k errs.Kind) func(error) bool { return func(err error) bool { return errs.Is(err, k) } }
