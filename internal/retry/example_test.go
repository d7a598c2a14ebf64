package retry_test

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/coffer-vault/coffer/internal/retry"
)

// A call that fails twice with a network error and then succeeds. The
// policy's clock is replaced so the example does not wait.
func ExamplePolicy_Do() {
	p := retry.Policy{
		MaxAttempts: 5,
		BaseDelay:   100 * time.Millisecond,
		Sleep:       func(context.Context, time.Duration) error { return nil },
	}
	attempts := 0
	err := p.Do(context.Background(), func(ctx context.Context) error {
		attempts++
		if attempts < 3 {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
	fmt.Println(attempts, err)
	// Output: 3 <nil>
}

// SDK clients take the same settings as a common.RetryPolicy, for example
// client.SetCustomClientConfiguration(common.CustomClientConfiguration{RetryPolicy: &rp}).
func ExamplePolicy_SDK() {
	rp := retry.Default().SDK()
	fmt.Println(rp.MaximumNumberAttempts)
	// Output: 5
}
