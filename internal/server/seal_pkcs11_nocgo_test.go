//go:build !cgo

package server_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/server"
)

// TestSealPKCS11NeedsCgo: a binary without cgo refuses --seal pkcs11 at
// start, saying how to get one that can load the module, rather than start
// sealed for good.
func TestSealPKCS11NeedsCgo(t *testing.T) {
	srv, err := server.Start(context.Background(), server.Config{DataDir: coffertest.DataDir(t), Listen: "127.0.0.1:0",
		Seal: "pkcs11", PKCS11: keyprotect.HSMConfig{ModulePath: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "t"},
		Log: slog.New(slog.DiscardHandler)})
	if err == nil {
		srv.Close(context.Background())
		t.Fatal("started")
	}
	if !strings.Contains(err.Error(), "without cgo") {
		t.Fatalf("error %v does not say why", err)
	}
}
