// Package sdklog caps the OCI Go SDK's own logging. At OCI_GO_SDK_DEBUG=verbose
// the SDK dumps every request and response body, and a secret bundle's body
// is the secret; every Coffer process that builds SDK clients (the CLI, the
// agent, `coffer run`) calls Limit first.
package sdklog

import (
	"sync"

	"github.com/oracle/oci-go-sdk/v65/common"
)

var once sync.Once

// debugLevel is the SDK's debug level; verbose (3) is the one that dumps
// bodies. Error bodies and headers (with credentials redacted by the SDK)
// are still logged at debug.
const debugLevel = 2

// Limit replaces the SDK's process-wide logger, once, with one that drops
// everything above the debug level.
func Limit() {
	once.Do(func() {
		l, err := common.NewSDKLogger()
		if err != nil {
			return
		}
		common.SetSDKLogger(capped{l})
	})
}

type capped struct{ l common.DefaultSDKLogger }

func (c capped) LogLevel() int { return min(c.l.LogLevel(), debugLevel) }

func (c capped) Log(level int, format string, v ...any) error {
	if level > debugLevel {
		return nil
	}
	return c.l.Log(level, format, v...)
}
