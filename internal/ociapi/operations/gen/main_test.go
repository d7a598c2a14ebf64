package main

import (
	"bytes"
	"os"
	"testing"
)

// TestGeneratedIsCurrent regenerates the table from the SDK in go.mod and
// compares it with the file checked in, so a new SDK version cannot leave
// the table behind: run go generate ./internal/ociapi/operations.
func TestGeneratedIsCurrent(t *testing.T) {
	want, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile("../operations_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, want) {
		t.Fatal("internal/ociapi/operations/operations_gen.go is stale: run go generate ./internal/ociapi/operations")
	}
}

// TestGenerateFindsEveryClient guards the parser: each client of the four
// families contributes operations, and the counts match what the SDK's
// source says (one CallWithServiceAndOperationName per operation).
func TestGenerateFindsEveryClient(t *testing.T) {
	dir, _, err := sdkDir()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, pkg := range packages {
		files, err := globClients(dir, pkg)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			ops, err := parseClient(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range ops {
				got[o.client]++
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(b, []byte("CallWithServiceAndOperationName(")); len(ops) != n {
				t.Errorf("%s: parsed %d operations, the source sends %d", f, len(ops), n)
			}
		}
	}
	for _, c := range []string{"KmsVault", "KmsManagement", "KmsCrypto", "KmsHsmCluster", "Ekm", "Vaults", "Secrets", "Identity"} {
		if got[c] == 0 {
			t.Errorf("client %s: no operations", c)
		}
	}
}
