package retry

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
)

// fakeClock is a manual clock whose Sleep advances time instantly and
// records every wait.
type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) policy(p Policy) Policy {
	p.Now = c.Now
	p.Sleep = c.Sleep
	if p.Jitter == nil {
		p.Jitter = func(d time.Duration) time.Duration { return d } // upper bound: deterministic
	}
	return p
}

// svcErr is a common.ServiceError as the SDK returns it.
type svcErr struct {
	status int
	code   string
}

func (e svcErr) Error() string           { return fmt.Sprintf("service error %d %s", e.status, e.code) }
func (e svcErr) GetHTTPStatusCode() int  { return e.status }
func (e svcErr) GetMessage() string      { return "msg" }
func (e svcErr) GetCode() string         { return e.code }
func (e svcErr) GetOpcRequestID() string { return "req" }

var _ common.ServiceError = svcErr{}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

type statusErr int

func (e statusErr) Error() string       { return "status" }
func (e statusErr) HTTPStatusCode() int { return int(e) }

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"429", svcErr{429, "TooManyRequests"}, true},
		{"500", svcErr{500, "InternalServerError"}, true},
		{"502 wrapped", fmt.Errorf("get bundle: %w", svcErr{502, ""}), true},
		{"503", svcErr{503, ""}, true},
		{"501", svcErr{501, "MethodNotImplemented"}, false},
		{"400", svcErr{400, "InvalidParameter"}, false},
		{"401", svcErr{401, "NotAuthenticated"}, false},
		{"403", svcErr{403, ""}, false},
		{"404", svcErr{404, "NotAuthorizedOrNotFound"}, false},
		{"409 conflict", svcErr{409, "Conflict"}, false},
		{"409 IncorrectState", svcErr{409, "IncorrectState"}, true},
		{"409 LockConflict", svcErr{409, "LockConflict"}, true},
		{"412", svcErr{412, ""}, false},
		{"plain status 503", statusErr(503), true},
		{"plain status 404", statusErr(404), false},
		{"EOF", io.EOF, true},
		{"unexpected EOF wrapped", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"conn reset", &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, true},
		{"conn refused", &url.Error{Op: "Get", URL: "https://x", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}, true},
		{"timeout", &url.Error{Op: "Get", URL: "https://x", Err: timeoutErr{}}, true},
		{"url error non-network", &url.Error{Op: "Get", URL: "https://x", Err: errors.New("unsupported protocol scheme")}, false},
		{"dns not found", &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}}, false},
		{"dns temporary", &net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}, true},
		{"certificate", &url.Error{Op: "Get", URL: "https://x", Err: x509.UnknownAuthorityError{}}, false},
		{"context canceled", context.Canceled, false},
		{"deadline exceeded", fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{"other", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Retryable(tt.err); got != tt.want {
				t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestDoSucceedsAfterRetries(t *testing.T) {
	c := newFakeClock()
	p := c.policy(Policy{MaxAttempts: 5, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second})
	calls := 0
	err := p.Do(context.Background(), func(context.Context) error {
		calls++
		if calls < 4 {
			return svcErr{503, ""}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if calls != 4 {
		t.Fatalf("calls = %d, want 4", calls)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
	if fmt.Sprint(c.sleeps) != fmt.Sprint(want) {
		t.Fatalf("sleeps = %v, want %v", c.sleeps, want)
	}
}

func TestDoBackoffCappedAndJittered(t *testing.T) {
	c := newFakeClock()
	var asked []time.Duration
	p := c.policy(Policy{
		MaxAttempts: 7, BaseDelay: time.Second, MaxDelay: 5 * time.Second, MaxElapsed: -1,
		Jitter: func(d time.Duration) time.Duration { asked = append(asked, d); return d / 2 },
	})
	err := p.Do(context.Background(), func(context.Context) error { return svcErr{500, ""} })
	if !errors.Is(err, ErrExhausted) {
		t.Fatalf("err = %v, want ErrExhausted", err)
	}
	var se svcErr
	if !errors.As(err, &se) || se.status != 500 {
		t.Fatalf("last error not wrapped: %v", err)
	}
	wantCeil := []time.Duration{1, 2, 4, 5, 5, 5}
	for i := range wantCeil {
		wantCeil[i] *= time.Second
	}
	if fmt.Sprint(asked) != fmt.Sprint(wantCeil) {
		t.Fatalf("jitter ceilings = %v, want %v", asked, wantCeil)
	}
	for i, s := range c.sleeps {
		if s != wantCeil[i]/2 {
			t.Fatalf("sleep %d = %v, want jittered %v", i, s, wantCeil[i]/2)
		}
	}
}

func TestDefaultJitterWithinBounds(t *testing.T) {
	for i := 0; i < 1000; i++ {
		d := jitter(time.Second)
		if d < 0 || d > time.Second {
			t.Fatalf("jitter(1s) = %v, out of [0, 1s]", d)
		}
	}
	if jitter(0) != 0 {
		t.Fatal("jitter(0) != 0")
	}
	// Full jitter must actually spread: 1000 draws are not all equal.
	first := jitter(time.Hour)
	for i := 0; i < 1000; i++ {
		if jitter(time.Hour) != first {
			return
		}
	}
	t.Fatal("jitter returned the same value 1000 times")
}

func TestDoNeverRetriesFinalErrors(t *testing.T) {
	for _, err := range []error{svcErr{400, ""}, svcErr{401, ""}, svcErr{404, ""}, svcErr{501, ""}, errors.New("x")} {
		c := newFakeClock()
		calls := 0
		got := c.policy(Policy{}).Do(context.Background(), func(context.Context) error { calls++; return err })
		if calls != 1 || !errors.Is(got, err) || errors.Is(got, ErrExhausted) {
			t.Errorf("%v: calls=%d err=%v; want 1 call and the error unchanged", err, calls, got)
		}
	}
}

func TestDoHonoursRetryAfter(t *testing.T) {
	c := newFakeClock()
	p := c.policy(Policy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})
	calls := 0
	h := http.Header{}
	h.Set("Retry-After", "7")
	err := p.Do(context.Background(), func(context.Context) error {
		calls++
		if calls == 1 {
			return WithRetryAfter(svcErr{429, "TooManyRequests"}, h, c.Now())
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("err=%v calls=%d", err, calls)
	}
	if len(c.sleeps) != 1 || c.sleeps[0] != 7*time.Second {
		t.Fatalf("sleeps = %v, want [7s]", c.sleeps)
	}
}

func TestDoRetryAfterHook(t *testing.T) {
	c := newFakeClock()
	p := c.policy(Policy{MaxAttempts: 2, RetryAfter: func(err error) (time.Duration, bool) {
		return 3 * time.Second, true
	}})
	calls := 0
	_ = p.Do(context.Background(), func(context.Context) error {
		calls++
		if calls == 1 {
			return svcErr{429, ""}
		}
		return nil
	})
	if len(c.sleeps) != 1 || c.sleeps[0] != 3*time.Second {
		t.Fatalf("sleeps = %v, want [3s]", c.sleeps)
	}
}

func TestDoStopsWhenRetryAfterExceedsBudget(t *testing.T) {
	c := newFakeClock()
	p := c.policy(Policy{MaxAttempts: 5, MaxElapsed: 10 * time.Second})
	calls := 0
	err := p.Do(context.Background(), func(context.Context) error {
		calls++
		return &RetryAfterError{Err: svcErr{429, ""}, After: time.Minute}
	})
	if calls != 1 || !errors.Is(err, ErrExhausted) || len(c.sleeps) != 0 {
		t.Fatalf("calls=%d sleeps=%v err=%v; want one call, no sleep, ErrExhausted", calls, c.sleeps, err)
	}
}

func TestDoBoundedTotalTime(t *testing.T) {
	c := newFakeClock()
	p := c.policy(Policy{MaxAttempts: 100, BaseDelay: time.Second, MaxDelay: 4 * time.Second, MaxElapsed: 10 * time.Second})
	start := c.Now()
	err := p.Do(context.Background(), func(context.Context) error { return io.EOF })
	if !errors.Is(err, ErrExhausted) || !errors.Is(err, io.EOF) {
		t.Fatalf("err = %v", err)
	}
	if el := c.Now().Sub(start); el > 10*time.Second {
		t.Fatalf("elapsed %v exceeds MaxElapsed", el)
	}
	// 1+2+4 = 7s; the next 4s wait would end at 11s > 10s.
	if len(c.sleeps) != 3 {
		t.Fatalf("sleeps = %v, want 3", c.sleeps)
	}
}

func TestDoRespectsContextDeadline(t *testing.T) {
	c := newFakeClock()
	c.now = time.Now() // context deadlines are on the real clock
	p := c.policy(Policy{MaxAttempts: 5, BaseDelay: time.Hour, MaxDelay: time.Hour, MaxElapsed: -1})
	ctx, cancel := context.WithDeadline(context.Background(), c.Now().Add(time.Minute))
	defer cancel()
	calls := 0
	err := p.Do(ctx, func(context.Context) error { calls++; return svcErr{503, ""} })
	if calls != 1 || !errors.Is(err, ErrExhausted) || len(c.sleeps) != 0 {
		t.Fatalf("calls=%d sleeps=%v err=%v", calls, c.sleeps, err)
	}
}

func TestDoContextCancelStopsAtOnce(t *testing.T) {
	t.Run("during wait", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		p := Policy{MaxAttempts: 5, BaseDelay: time.Hour, MaxDelay: time.Hour, MaxElapsed: -1}
		calls := 0
		done := make(chan error, 1)
		go func() {
			done <- p.Do(ctx, func(context.Context) error { calls++; return svcErr{503, ""} })
		}()
		time.AfterFunc(10*time.Millisecond, cancel)
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if calls != 1 {
				t.Fatalf("calls = %d", calls)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Do did not return after cancel")
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		calls := 0
		err := Policy{}.Do(ctx, func(context.Context) error { calls++; return nil })
		if calls != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("calls=%d err=%v", calls, err)
		}
	})
	t.Run("cancelled by the call", func(t *testing.T) {
		c := newFakeClock()
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := c.policy(Policy{}).Do(ctx, func(context.Context) error { calls++; cancel(); return io.EOF })
		if calls != 1 || !errors.Is(err, context.Canceled) || !errors.Is(err, io.EOF) {
			t.Fatalf("calls=%d err=%v", calls, err)
		}
	})
}

func TestMaxAttemptsOneDisablesRetry(t *testing.T) {
	c := newFakeClock()
	calls := 0
	err := c.policy(Policy{MaxAttempts: 1}).Do(context.Background(), func(context.Context) error { calls++; return io.EOF })
	if calls != 1 || !errors.Is(err, io.EOF) {
		t.Fatalf("calls=%d err=%v", calls, err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{"99999999999999999999999", 24 * time.Hour, true},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), 24 * time.Hour, true},
		{"Thursday, 02-Jan-25 03:05:05 GMT", time.Minute, true}, // RFC 850
		{"", 0, false},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{" 5", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, s := range []string{"0", "120", "Thu, 02 Jan 2025 03:05:05 GMT", "Thursday, 02-Jan-25 03:05:05 GMT",
		"Thu Jan  2 03:05:05 2025", "", "-1", "1e9", "999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseRetryAfter(s, now)
		if !ok && d != 0 {
			t.Fatalf("not ok but d=%v", d)
		}
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v out of range", s, d)
		}
	})
}

func TestWithRetryAfter(t *testing.T) {
	now := time.Now()
	base := svcErr{429, ""}
	if got := WithRetryAfter(base, nil, now); got != error(base) {
		t.Fatal("nil header changed the error")
	}
	if got := WithRetryAfter(nil, http.Header{"Retry-After": {"1"}}, now); got != nil {
		t.Fatal("nil error became non-nil")
	}
	h := http.Header{}
	h.Set("Retry-After", "garbage")
	if got := WithRetryAfter(base, h, now); got != error(base) {
		t.Fatal("malformed header changed the error")
	}
	h.Set("Retry-After", "4")
	got := WithRetryAfter(base, h, now)
	if d, ok := RetryAfter(got); !ok || d != 4*time.Second {
		t.Fatalf("RetryAfter = %v, %v", d, ok)
	}
	if !Retryable(got) {
		t.Fatal("wrapping hid the 429")
	}
	if got.Error() != base.Error() {
		t.Fatal("wrapping changed the message")
	}
}

// sdkResp is an OCIResponse carrying an HTTP response.
type sdkResp struct{ r *http.Response }

func (s sdkResp) HTTPResponse() *http.Response { return s.r }

func TestSDKPolicy(t *testing.T) {
	c := newFakeClock()
	p := c.policy(Policy{MaxAttempts: 4, BaseDelay: time.Second, MaxDelay: 8 * time.Second, MaxElapsed: 20 * time.Second})
	rp := p.SDK()
	if rp.MaximumNumberAttempts != 4 {
		t.Fatalf("MaximumNumberAttempts = %d", rp.MaximumNumberAttempts)
	}
	if rp.NonEventuallyConsistentPolicy != nil {
		t.Fatal("eventual consistency should be off")
	}
	start := c.Now()
	resp := func(status int, retryAfter string) common.OCIResponse {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return sdkResp{&http.Response{StatusCode: status, Header: h}}
	}
	op := func(err error, r common.OCIResponse, attempt uint) common.OCIOperationResponse {
		o := common.NewOCIOperationResponseExtended(r, err, attempt, nil, 1, start)
		return o
	}
	tests := []struct {
		name      string
		o         common.OCIOperationResponse
		wantRetry bool
		wantNext  time.Duration
	}{
		{"success", op(nil, resp(200, ""), 1), false, 0},
		{"429 with Retry-After", op(svcErr{429, ""}, resp(429, "3"), 1), true, 3 * time.Second},
		{"503 backoff attempt 1", op(svcErr{503, ""}, resp(503, ""), 1), true, time.Second},
		{"503 backoff attempt 3", op(svcErr{503, ""}, resp(503, ""), 3), true, 4 * time.Second},
		{"503 last attempt", op(svcErr{503, ""}, resp(503, ""), 4), false, 0},
		{"404", op(svcErr{404, ""}, resp(404, ""), 1), false, 0},
		{"network, no response", op(io.EOF, nil, 1), true, time.Second},
		{"Retry-After past budget", op(svcErr{429, ""}, resp(429, "60"), 1), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rp.ShouldRetryOperation(tt.o); got != tt.wantRetry {
				t.Fatalf("ShouldRetryOperation = %v, want %v", got, tt.wantRetry)
			}
			if tt.wantRetry {
				if got := rp.NextDuration(tt.o); got != tt.wantNext {
					t.Fatalf("NextDuration = %v, want %v", got, tt.wantNext)
				}
			}
		})
	}
	t.Run("elapsed budget", func(t *testing.T) {
		c.now = start.Add(19 * time.Second)
		o := op(svcErr{503, ""}, resp(503, ""), 3)
		if !rp.ShouldRetryOperation(o) {
			t.Fatal("should still retry with 1s left")
		}
		if got := rp.NextDuration(o); got != time.Second {
			t.Fatalf("NextDuration = %v, want capped to the 1s left", got)
		}
		c.now = start.Add(21 * time.Second)
		if rp.ShouldRetryOperation(o) {
			t.Fatal("retried past MaxElapsed")
		}
	})
}

// TestSDKPolicyDrivesSDKRetry runs the adapter through the SDK's own retry
// loop, so a change in how the SDK calls a policy is caught here.
func TestSDKPolicyDrivesSDKRetry(t *testing.T) {
	p := Policy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}
	rp := p.SDK()
	calls := 0
	op := func(ctx context.Context, req common.OCIRequest, _ *common.OCIReadSeekCloser, _ map[string]string) (common.OCIResponse, error) {
		calls++
		return sdkResp{&http.Response{StatusCode: 503, Header: http.Header{}}}, svcErr{503, ""}
	}
	_, err := common.Retry(context.Background(), fakeRequest{}, op, rp)
	if calls != 3 {
		t.Fatalf("SDK made %d calls, want 3", calls)
	}
	var se svcErr
	if !errors.As(err, &se) {
		t.Fatalf("err = %v", err)
	}
	calls = 0
	op404 := func(ctx context.Context, req common.OCIRequest, _ *common.OCIReadSeekCloser, _ map[string]string) (common.OCIResponse, error) {
		calls++
		return sdkResp{&http.Response{StatusCode: 404, Header: http.Header{}}}, svcErr{404, ""}
	}
	_, _ = common.Retry(context.Background(), fakeRequest{}, op404, rp)
	if calls != 1 {
		t.Fatalf("SDK retried a 404: %d calls", calls)
	}
}

type fakeRequest struct{}

func (fakeRequest) HTTPRequest(method, path string, _ *common.OCIReadSeekCloser, _ map[string]string) (http.Request, error) {
	return http.Request{}, nil
}
func (fakeRequest) BinaryRequestBody() (*common.OCIReadSeekCloser, bool) { return nil, false }
func (fakeRequest) RetryPolicy() *common.RetryPolicy                     { return nil }
