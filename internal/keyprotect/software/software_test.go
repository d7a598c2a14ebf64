package software_test

import (
	"context"
	"errors"
	"testing"

	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/keyprotect/protecttest"
	"github.com/coffer-vault/coffer/internal/keyprotect/software"
)

func TestConformanceSoftware(t *testing.T) {
	protecttest.Run(t, func(t *testing.T) keyprotect.Protection { return software.New(protecttest.NewSealer()) })
}

func TestConformanceEmulatedHSM(t *testing.T) {
	protecttest.Run(t, func(t *testing.T) keyprotect.Protection { return software.NewEmulatedHSM(protecttest.NewSealer()) })
}

func TestEmulatedHSMReportsItself(t *testing.T) {
	s := protecttest.NewSealer()
	if keyprotect.IsEmulated(software.New(s)) {
		t.Error("SOFTWARE protection claims to be an emulated HSM")
	}
	e := software.NewEmulatedHSM(s)
	if !keyprotect.IsEmulated(e) || e.Mode() != keyprotect.ModeHSM {
		t.Errorf("emulated HSM: IsEmulated=%v Mode=%s", keyprotect.IsEmulated(e), e.Mode())
	}
	if _, ok := any(e).(keyprotect.Exporter); ok {
		t.Error("emulated HSM is an Exporter")
	}
}

// A blob from the emulated HSM must not open as SOFTWARE (where it could be
// exported), nor the other way round.
func TestBlobsDoNotCrossFlavours(t *testing.T) {
	ctx := context.Background()
	s := protecttest.NewSealer()
	sw, emu := software.New(s), software.NewEmulatedHSM(s)
	shape := keyprotect.Shape{Algorithm: keyprotect.AES, Length: 32}
	for _, c := range []struct {
		name     string
		from, to keyprotect.Protection
	}{{"emulated to software", emu, sw}, {"software to emulated", sw, emu}} {
		m, err := c.from.Generate(ctx, "ocid1.keyversion.x", shape)
		if err != nil {
			t.Fatal(err)
		}
		v := keyprotect.Version{ID: "ocid1.keyversion.x", Shape: shape, Blob: m.Blob}
		if _, err := c.to.Open(ctx, v); !errors.Is(err, keyprotect.ErrCorruptBlob) {
			t.Errorf("%s: Open = %v, want ErrCorruptBlob", c.name, err)
		}
		if c.to == keyprotect.Protection(sw) {
			if _, err := sw.ExportMaterial(ctx, v); err == nil {
				t.Errorf("%s: an emulated-HSM blob was exported", c.name)
			}
		}
	}
}

func TestMaterialGoesThroughSealer(t *testing.T) {
	s := protecttest.NewSealer()
	p := software.New(s)
	shape := keyprotect.Shape{Algorithm: keyprotect.AES, Length: 32}
	m, err := p.Generate(context.Background(), "v1", shape)
	if err != nil {
		t.Fatal(err)
	}
	if s.Seals.Load() != 1 {
		t.Errorf("Seal called %d times", s.Seals.Load())
	}
	if _, err := keyprotect.Open(context.Background(), p, keyprotect.Version{ID: "v1", Shape: shape, Blob: m.Blob}); err != nil {
		t.Fatal(err)
	}
	if s.Opens.Load() != 1 {
		t.Errorf("Open called %d times", s.Opens.Load())
	}
}

func benchHandle(b *testing.B) *keyprotect.Handle {
	p := software.New(protecttest.NewSealer())
	shape := keyprotect.Shape{Algorithm: keyprotect.AES, Length: 32}
	m, err := p.Generate(context.Background(), "ocid1.keyversion.oc1.bench", shape)
	if err != nil {
		b.Fatal(err)
	}
	h, err := keyprotect.Open(context.Background(), p, keyprotect.Version{ID: "ocid1.keyversion.oc1.bench", Shape: shape, Blob: m.Blob})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

func BenchmarkEncrypt1KiBAES256(b *testing.B) {
	h := benchHandle(b)
	pt := make([]byte, 1024)
	aad := keyprotect.AssociatedData{"secret": "ocid1.vaultsecret.oc1.bench", "version": "1"}
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Encrypt("", pt, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt1KiBAES256(b *testing.B) {
	h := benchHandle(b)
	aad := keyprotect.AssociatedData{"secret": "ocid1.vaultsecret.oc1.bench", "version": "1"}
	ct, err := h.Encrypt("", make([]byte, 1024), aad)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		pt, _, err := h.Decrypt("", ct, aad)
		if err != nil {
			b.Fatal(err)
		}
		pt.Wipe()
	}
}
