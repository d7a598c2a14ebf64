//go:build race

package server_test

import "time"

// localWakeBound is looser under the race detector, which slows every
// request several times over.
const localWakeBound = time.Second
