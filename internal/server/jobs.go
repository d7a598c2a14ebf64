package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// jobLeaseKey holds the lease that lets one node at a time run the
// background jobs when several nodes share a database. It is an ordinary
// store record, so it works on every backend: a node takes or renews the
// lease in a serializable transaction and runs the jobs only while it
// holds it; a crashed node's lease lapses after jobLeaseTTL.
const jobLeaseKey = "core/joblease"

type jobLease struct {
	Node    string    `json:"node"`
	Expires time.Time `json:"expires"`
}

func newNodeID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// takeJobLease returns whether this node holds the job lease for the next
// ttl.
func (s *Server) takeJobLease(ctx context.Context, ttl time.Duration) (bool, error) {
	held := false
	err := s.st.Update(ctx, func(tx store.Tx) error {
		held = false
		now := s.cfg.Now()
		b, err := tx.Get(jobLeaseKey)
		if err == nil {
			var l jobLease
			if json.Unmarshal(b, &l) == nil && l.Node != s.nodeID && now.Before(l.Expires) {
				return nil
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		b, err = json.Marshal(jobLease{Node: s.nodeID, Expires: now.Add(ttl)})
		if err != nil {
			return err
		}
		held = true
		return tx.Put(jobLeaseKey, b)
	})
	return held && err == nil, err
}

// TakeJobLease tries to take the background-job lease for three job
// intervals; tests use it to check that one node at a time runs the jobs.
func (s *Server) TakeJobLease(ctx context.Context) (bool, error) {
	return s.takeJobLease(ctx, 3*s.cfg.JobInterval)
}
