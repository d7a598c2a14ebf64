package shamir

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"testing"
)

// TestFieldKnownAnswers checks the field against FIPS-197's worked
// examples ({57}·{83} = {c1}, {57}·{13} = {fe}) and the inverse {53}^-1 =
// {ca} used to derive the AES S-box.
func TestFieldKnownAnswers(t *testing.T) {
	for _, tc := range []struct{ a, b, want byte }{
		{0x57, 0x83, 0xc1}, {0x57, 0x13, 0xfe}, {0x01, 0xab, 0xab}, {0x00, 0xab, 0x00}, {0x02, 0x80, 0x1b},
	} {
		if got := mul(tc.a, tc.b); got != tc.want {
			t.Errorf("mul(%#x, %#x) = %#x, want %#x", tc.a, tc.b, got, tc.want)
		}
	}
	if got := inv(0x53); got != 0xca {
		t.Errorf("inv(0x53) = %#x, want 0xca", got)
	}
	for a := 1; a < 256; a++ {
		if p := mul(byte(a), inv(byte(a))); p != 1 {
			t.Fatalf("%#x * inv = %#x", a, p)
		}
		for b := 0; b < 256; b++ {
			if mul(byte(a), byte(b)) != slowMul(byte(a), byte(b)) {
				t.Fatalf("mul(%#x,%#x) disagrees with the reference", a, b)
			}
		}
	}
}

// slowMul is carry-less multiplication then reduction: a second,
// independent implementation of the field.
func slowMul(a, b byte) byte {
	var p uint16
	for i := range 8 {
		if b&(1<<i) != 0 {
			p ^= uint16(a) << i
		}
	}
	for i := 15; i >= 8; i-- {
		if p&(1<<i) != 0 {
			p ^= 0x11b << (i - 8)
		}
	}
	return byte(p)
}

// TestCombineKnownAnswer: f(x) = 0x42 + 0x57·x; f(0x83) = 0x42^0xc1 = 0x83,
// f(0x13) = 0x42^0xfe = 0xbc (FIPS-197 products), so those two points
// rebuild 0x42.
func TestCombineKnownAnswer(t *testing.T) {
	a, _ := ShareFromBytes([]byte{0x83, 0x83})
	b, _ := ShareFromBytes([]byte{0xbc, 0x13})
	got, err := Combine([]Share{a, b})
	if err != nil || !bytes.Equal(got, []byte{0x42}) {
		t.Fatalf("Combine = %x, %v; want 42", got, err)
	}
}

func subsets(n, k int, f func([]int)) {
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		if len(cur) == k {
			f(cur)
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, nil)
}

// TestAnyThresholdSubsetRecovers: every subset of at least k shares
// rebuilds the secret; every subset of fewer gives something else.
func TestAnyThresholdSubsetRecovers(t *testing.T) {
	for _, tc := range []struct{ n, k int }{{2, 2}, {3, 2}, {5, 3}, {6, 6}, {7, 4}} {
		t.Run(fmt.Sprintf("%d-of-%d", tc.k, tc.n), func(t *testing.T) {
			secret := make([]byte, 32)
			_, _ = rand.Read(secret)
			shares, err := Split(secret, tc.n, tc.k)
			if err != nil {
				t.Fatal(err)
			}
			for size := 2; size <= tc.n; size++ {
				subsets(tc.n, size, func(idx []int) {
					pick := make([]Share, len(idx))
					for i, j := range idx {
						pick[i] = shares[j]
					}
					// Order must not matter.
					mrand.Shuffle(len(pick), func(i, j int) { pick[i], pick[j] = pick[j], pick[i] })
					got, err := Combine(pick)
					if err != nil {
						t.Fatalf("Combine %v: %v", idx, err)
					}
					if recovered := bytes.Equal(got, secret); recovered != (size >= tc.k) {
						t.Fatalf("subset %v of size %d (threshold %d): recovered=%v", idx, size, tc.k, recovered)
					}
				})
			}
		})
	}
}

// TestSharesLookRandom: with fewer than k shares every secret is equally
// likely, so two different secrets split with the same coefficients'
// distribution give shares that do not reveal which is which; the cheap
// check here is that one share's bytes do not equal the secret and that
// splitting twice gives different shares.
func TestSharesLookRandom(t *testing.T) {
	secret := bytes.Repeat([]byte{0xaa}, 32)
	a, _ := Split(secret, 3, 2)
	b, _ := Split(secret, 3, 2)
	for i := range a {
		if bytes.Equal(a[i].b[:32], secret) || a[i].Equal(b[i]) {
			t.Fatalf("share %d is not randomised", i)
		}
	}
}

func TestSplitAndCombineErrors(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	for _, tc := range []struct {
		n, k int
		s    []byte
	}{{5, 1, secret}, {2, 3, secret}, {256, 3, secret}, {3, 2, nil}} {
		if _, err := Split(tc.s, tc.n, tc.k); err == nil {
			t.Errorf("Split(len %d, %d, %d) succeeded", len(tc.s), tc.n, tc.k)
		}
	}
	shares, _ := Split(secret, 3, 2)
	short, _ := ShareFromBytes([]byte{1, 2, 3})
	for name, in := range map[string][]Share{
		"one":       shares[:1],
		"duplicate": {shares[0], shares[0]},
		"lengths":   {shares[0], short},
		"zero":      {shares[0], {}},
	} {
		if _, err := Combine(in); err == nil {
			t.Errorf("Combine %s succeeded", name)
		}
	}
	if _, err := Combine([]Share{shares[0], shares[0]}); !errors.Is(err, ErrInvalidShare) {
		t.Errorf("duplicate: %v, want ErrInvalidShare", err)
	}
}

func TestTextRoundTripAndRedaction(t *testing.T) {
	shares, _ := Split([]byte("0123456789abcdef0123456789abcdef"), 3, 2)
	for _, s := range shares {
		p, err := ParseShare([]byte("  " + s.Text() + "\n"))
		if err != nil || !p.Equal(s) {
			t.Fatalf("ParseShare(Text) = %v", err)
		}
		var log bytes.Buffer
		slog.New(slog.NewTextHandler(&log, nil)).Info("x", "share", s)
		for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), log.String()} {
			if strings.Contains(out, s.Text()) || !strings.Contains(out, "REDACTED") {
				t.Errorf("share printed as %q", out)
			}
		}
	}
	for _, bad := range []string{"", "!!!", "AA==", strings.Repeat("A", MaxShareText+4), "AAA="} {
		if _, err := ParseShare([]byte(bad)); !errors.Is(err, ErrInvalidShare) {
			t.Errorf("ParseShare(%.20q) = %v, want ErrInvalidShare", bad, err)
		}
	}
}

func FuzzParseShare(f *testing.F) {
	shares, _ := Split([]byte("0123456789abcdef0123456789abcdef"), 3, 2)
	for _, s := range shares {
		f.Add([]byte(s.Text()))
	}
	for _, seed := range []string{"", "AA==", "AAE=", " AAE= ", "%%%", strings.Repeat("QUFB", 300)} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		s, err := ParseShare(text)
		if err != nil {
			if !errors.Is(err, ErrInvalidShare) {
				t.Fatalf("error %v is not ErrInvalidShare", err)
			}
			return
		}
		if s.X() == 0 || s.Len() < 1 {
			t.Fatalf("accepted share with x=%d len=%d", s.X(), s.Len())
		}
		again, err := ParseShare([]byte(s.Text()))
		if err != nil || !again.Equal(s) {
			t.Fatalf("text round trip failed: %v", err)
		}
	})
}

func BenchmarkSplitCombine32(b *testing.B) {
	secret := make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		shares, err := Split(secret, 5, 3)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Combine(shares[:3]); err != nil {
			b.Fatal(err)
		}
	}
}
