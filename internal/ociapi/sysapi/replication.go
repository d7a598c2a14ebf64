package sysapi

import (
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/replication"
)

// ReplicationStatusPath answers how this region's replicas of each peer
// region stand (`coffer operator replication status`).
const ReplicationStatusPath = Prefix + "replication/status"

// ReplicationStatusResponse is the answer of POST ReplicationStatusPath.
type ReplicationStatusResponse struct {
	Region string `json:"region"`
	// PublicKey is this region's peer identity ("" without one): what
	// its peers pass as --peer-key.
	PublicKey string                     `json:"peerPublicKey,omitempty"`
	Peers     []string                   `json:"peers"`
	Sources   []replication.SourceStatus `json:"sources"`
}

// Replication tells the status route what it reports.
type Replication interface {
	Region() string
	PeerPublicKey() string
	PeerRegions() []string
	ReplicationStatus() []replication.SourceStatus
}

func (h *Handlers) replicationRoutes() []ociapi.Route {
	return []ociapi.Route{
		{Pattern: "POST " + ReplicationStatusPath, Operation: iam.OperationGetRegionReplicationStatus, ReadOnly: true, Handler: h.replicationStatus},
	}
}

func (h *Handlers) replicationStatus(c *ociapi.Call) error {
	if err := h.authorize(c); err != nil {
		return err
	}
	out := ReplicationStatusResponse{Peers: []string{}, Sources: []replication.SourceStatus{}}
	if r := h.Replication; r != nil {
		out.Region, out.PublicKey = r.Region(), r.PeerPublicKey()
		if p := r.PeerRegions(); p != nil {
			out.Peers = p
		}
		if s := r.ReplicationStatus(); s != nil {
			out.Sources = s
		}
	}
	return reply(c, out)
}
