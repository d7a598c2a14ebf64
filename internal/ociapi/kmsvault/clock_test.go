package kmsvault_test

import (
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/server"
)

type serverConfig = server.Config

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
