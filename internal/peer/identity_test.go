package peer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/fsperm"
)

func TestCreateLoadIdentity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peer.key")
	id, err := CreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %04o, want 0600", info.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("file is not a PEM PRIVATE KEY:\n%s", b)
	}
	loaded, err := LoadIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.PublicKey().Equal(id.PublicKey()) || loaded.PublicKey() != id.PublicKey() {
		t.Fatal("loaded identity has another public key")
	}

	if _, err := CreateIdentity(path); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("CreateIdentity over an existing file: %v, want ErrExist", err)
	}
	if again, _ := LoadIdentity(path); again.PublicKey() != id.PublicKey() {
		t.Fatal("refused CreateIdentity changed the file")
	}
}

func TestLoadOrCreateIdentity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peer.key")
	id, created, err := LoadOrCreateIdentity(path)
	if err != nil || !created {
		t.Fatalf("first: created=%v err=%v", created, err)
	}
	again, created, err := LoadOrCreateIdentity(path)
	if err != nil || created {
		t.Fatalf("second: created=%v err=%v", created, err)
	}
	if again.PublicKey() != id.PublicKey() {
		t.Fatal("second call made another key")
	}
	os.Chmod(path, 0o644)
	if _, _, err := LoadOrCreateIdentity(path); err == nil {
		t.Fatal("LoadOrCreateIdentity accepted a 0644 file")
	}
}

func TestLoadIdentityRefusesOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peer.key")
	if _, err := CreateIdentity(path); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []fs.FileMode{0o644, 0o604, 0o660, 0o606} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadIdentity(path)
		var np *fsperm.NotPrivateError
		if !errors.As(err, &np) {
			t.Fatalf("mode %04o: %v, want *fsperm.NotPrivateError", mode, err)
		}
		if !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Fatalf("mode %04o: error does not tell the chmod: %v", mode, err)
		}
	}
}

func writeKeyFile(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "peer.key")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadIdentityRefusesOtherContent(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	good := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER})
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"ecdsa":      {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), "holds a ECDSA key"},
		"block type": {pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: edDER}), "exactly one PEM block"},
		"two blocks": {append(append([]byte{}, good...), good...), "exactly one PEM block"},
		"not pem":    {[]byte("hello"), "exactly one PEM block"},
		"empty":      {nil, "exactly one PEM block"},
		"bad der":    {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER[:20]}), "does not hold a PKCS#8"},
		"too large":  {bytes.Repeat([]byte("x"), maxIdentityFile+1), "larger than"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadIdentity(writeKeyFile(t, c.data))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	if _, err := LoadIdentity(writeKeyFile(t, append(good, "\n\n"...))); err != nil {
		t.Fatalf("trailing blank lines refused: %v", err)
	}
	if _, err := LoadIdentity(filepath.Join(t.TempDir(), "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want ErrNotExist", err)
	}
}

// leakForms are the ways private key bytes could show up in text.
func leakForms(secret []byte) []string {
	return []string{
		string(secret),
		hex.EncodeToString(secret), strings.ToUpper(hex.EncodeToString(secret)),
		base64.StdEncoding.EncodeToString(secret), base64.RawStdEncoding.EncodeToString(secret),
		base64.URLEncoding.EncodeToString(secret), base64.RawURLEncoding.EncodeToString(secret),
		fmt.Sprint([]byte(secret)), fmt.Sprintf("%#v", []byte(secret)),
		// the seed's first bytes in the forms above catch partial dumps
		hex.EncodeToString(secret[:8]), fmt.Sprint([]byte(secret[:8]))[1:20],
	}
}

func assertNoLeak(t *testing.T, what, text string, secret []byte) {
	t.Helper()
	for _, f := range leakForms(secret) {
		if f != "" && strings.Contains(text, f) {
			t.Fatalf("%s shows private key bytes (%q): %s", what, f, text)
		}
	}
}

func TestIdentityNeverShowsPrivateKey(t *testing.T) {
	// A canary seed: its bytes must show up nowhere.
	seed := []byte("CANARY-peer-identity-seed-0123456")[:ed25519.SeedSize]
	priv := ed25519.NewKeyFromSeed(seed)
	id := &Identity{priv: priv}
	der, _ := x509.MarshalPKCS8PrivateKey(priv)

	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("identity", "id", id)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("identity", "id", id)
	js, err := json.Marshal(id)
	if err != nil {
		t.Fatal(err)
	}
	js2, _ := json.Marshal(struct{ ID *Identity }{id})
	outputs := map[string]string{
		"%v":   fmt.Sprintf("%v", id),
		"%+v":  fmt.Sprintf("%+v", id),
		"%#v":  fmt.Sprintf("%#v", id),
		"%s":   fmt.Sprintf("%s", id),
		"%v*":  fmt.Sprintf("%v", *id),
		"%d":   fmt.Sprintf("%d %d %x %X %q", id, *id, id, *id, *id),
		"%+v*": fmt.Sprintf("%+v", struct{ I *Identity }{id}),
		"%#v*": fmt.Sprintf("%#v", struct{ I *Identity }{id}),
		"json": string(js) + string(js2),
		"slog": logged.String(),
	}
	for what, text := range outputs {
		assertNoLeak(t, what, text, seed)
		assertNoLeak(t, what+" (pkcs8)", text, der[len(der)-ed25519.SeedSize:])
	}
	if !strings.Contains(outputs["%v"], id.PublicKey().String()) || !strings.Contains(outputs["json"], id.PublicKey().String()) {
		t.Fatalf("identity should show its public key: %s / %s", outputs["%v"], outputs["json"])
	}

	// Errors of loading files that hold the canary (damaged, other type,
	// open to others) never show it either.
	pemText := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	wrongType := pem.EncodeToMemory(&pem.Block{Type: "SECRET", Bytes: der})
	damaged := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: append(der[:len(der)-1:len(der)-1], 0xff, 0xee)})
	for i, data := range [][]byte{wrongType, damaged, append(pemText, "junk"...)} {
		_, err := LoadIdentity(writeKeyFile(t, data))
		if err == nil {
			t.Fatalf("damaged identity %d accepted", i)
		}
		assertNoLeak(t, "load error", err.Error(), seed)
	}
	open := writeKeyFile(t, pemText)
	os.Chmod(open, 0o644)
	_, err = LoadIdentity(open)
	if err == nil {
		t.Fatal("0644 identity accepted")
	}
	assertNoLeak(t, "perm error", err.Error(), seed)
}

func TestParsePublicKey(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	k := (&Identity{priv: priv}).PublicKey()
	s := k.String()
	if len(s) != len("ed25519:")+44 || !strings.HasSuffix(s, "=") {
		t.Fatalf("String = %q: want ed25519: and 44 padded base64 characters", s)
	}
	got, err := ParsePublicKey(s)
	if err != nil || got != k {
		t.Fatalf("round trip: %v %v", got, err)
	}
	b64 := strings.TrimPrefix(s, "ed25519:")
	raw, _ := base64.StdEncoding.DecodeString(b64)
	for _, bad := range []string{
		"",
		b64,
		"ED25519:" + b64,
		"ed25519: " + b64,
		s + " ",
		" " + s,
		s + "\n",
		s[:len(s)-1],           // no padding
		s[:20] + "\n" + s[20:], // a line break base64 would skip
		"ed25519:" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb, 0xff}, 16)), // url alphabet ("-_")
		"ed25519:" + base64.StdEncoding.EncodeToString(raw[:31]),
		"ed25519:" + base64.StdEncoding.EncodeToString(append(raw, 0)),
		"ed25519:" + base64.StdEncoding.EncodeToString(make([]byte, 32)), // zero key
		s[:len(s)-2] + "B=", // non-canonical trailing bits
		"ecdsa:" + b64,
	} {
		if _, err := ParsePublicKey(bad); err == nil {
			t.Errorf("ParsePublicKey(%q) accepted", bad)
		}
	}
	var u PublicKey
	if err := u.UnmarshalText([]byte(s)); err != nil || u != k {
		t.Fatalf("UnmarshalText: %v", err)
	}
	if txt, err := k.MarshalText(); err != nil || string(txt) != s {
		t.Fatalf("MarshalText: %q %v", txt, err)
	}
	if _, err := (PublicKey{}).MarshalText(); err == nil {
		t.Fatal("zero key marshalled")
	}
}

func FuzzParsePublicKey(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	f.Add((&Identity{priv: priv}).PublicKey().String())
	f.Add("ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Add("ed25519:")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParsePublicKey(s)
		if err != nil {
			if !k.IsZero() {
				t.Fatal("error with a key")
			}
			return
		}
		if k.IsZero() || k.String() != s {
			t.Fatalf("accepted %q, which does not print back the same (%q)", s, k.String())
		}
	})
}
