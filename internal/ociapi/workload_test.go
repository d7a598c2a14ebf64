package ociapi

import (
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
		pub, err := WorkloadKey("publicKey", tc.value)
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
		got, err := Lifetime("ttlInSeconds", tc.seconds, max)
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
