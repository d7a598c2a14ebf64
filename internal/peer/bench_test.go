package peer

import (
	"net/http"
	"net/url"
	"testing"
)

func BenchmarkVerifyRequest(b *testing.B) {
	clk := &clock{now: t0}
	v := sourceVerifier(b, clk.Now)
	rep := testIdentity(replica)
	body := make([]byte, 1024)
	u, _ := url.Parse("http://source.example/coffer/v1/peer/pull?after=5")
	date := t0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		r := &http.Request{Method: "POST", URL: u, Header: http.Header{}}
		rep.SignRequest(r, replica, source, body, date)
		r.RequestURI = u.RequestURI()
		b.StartTimer()
		if _, err := v.VerifyRequest(r, body); err != nil {
			b.Fatal(err)
		}
		if len(v.seen) > MaxNonces/2 { // stay below the bound
			b.StopTimer()
			clk.Add(2 * MaxSkew)
			date = date.Add(2 * MaxSkew)
			b.StartTimer()
		}
	}
}

func BenchmarkSealOpen64KiB(b *testing.B) {
	k, _ := NewEphemeralKey()
	pt := make([]byte, 64<<10)
	ctx := ExchangeContext(source, replica, "AAAAAAAAAAAAAAAAAAAAAA")
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		sealed, err := Seal(k.Public(), ctx, pt)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := k.Open(sealed, ctx); err != nil {
			b.Fatal(err)
		}
	}
}
