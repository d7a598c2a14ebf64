package secrets

import (
	"fmt"
	"slices"
	"testing"
)

// TestStageTransitions replays every row of OCI's stage transitions
// (docs/oci-behaviours.md#secrets) on the stage pointers, then the same sequences
// through the service.
func TestStageTransitions(t *testing.T) {
	type step struct {
		op string // create | current | pending | promote
		n  int64
	}
	C, P, L, R, D := StageCurrent, StagePending, StageLatest, StagePrevious, StageDeprecated
	for _, tc := range []struct {
		name  string
		steps []step
		want  map[int64][]Stage
	}{
		{"CreateSecret: v1 CURRENT LATEST", []step{{"create", 1}},
			map[int64][]Stage{1: {C, L}}},
		{"content CURRENT: old CURRENT -> PREVIOUS, LATEST moves", []step{{"create", 1}, {"current", 2}},
			map[int64][]Stage{1: {R}, 2: {C, L}}},
		{"content CURRENT: old PREVIOUS -> DEPRECATED", []step{{"create", 1}, {"current", 2}, {"current", 3}},
			map[int64][]Stage{1: {D}, 2: {R}, 3: {C, L}}},
		{"content PENDING: CURRENT and PREVIOUS unchanged", []step{{"create", 1}, {"current", 2}, {"pending", 3}},
			map[int64][]Stage{1: {R}, 2: {C}, 3: {P, L}}},
		{"content PENDING: earlier PENDING -> DEPRECATED", []step{{"create", 1}, {"pending", 2}, {"pending", 3}},
			map[int64][]Stage{1: {C}, 2: {D}, 3: {P, L}}},
		{"content CURRENT while PENDING exists: PENDING -> DEPRECATED (Coffer's choice)", []step{{"create", 1}, {"pending", 2}, {"current", 3}},
			map[int64][]Stage{1: {R}, 2: {D}, 3: {C, L}}},
		{"promote PENDING: gets CURRENT, loses PENDING; LATEST stays", []step{{"create", 1}, {"pending", 2}, {"promote", 2}},
			map[int64][]Stage{1: {R}, 2: {C, L}}},
		{"promote: old PREVIOUS -> DEPRECATED", []step{{"create", 1}, {"current", 2}, {"pending", 3}, {"promote", 3}},
			map[int64][]Stage{1: {D}, 2: {R}, 3: {C, L}}},
		{"roll back to PREVIOUS: swap, LATEST does not move", []step{{"create", 1}, {"current", 2}, {"promote", 1}},
			map[int64][]Stage{1: {C}, 2: {L, R}}},
		{"roll back to an older DEPRECATED version", []step{{"create", 1}, {"current", 2}, {"current", 3}, {"promote", 1}},
			map[int64][]Stage{1: {C}, 2: {D}, 3: {L, R}}},
		{"second roll back leaves a LATEST-only version DEPRECATED", []step{{"create", 1}, {"current", 2}, {"current", 3}, {"promote", 2}, {"promote", 1}},
			map[int64][]Stage{1: {C}, 2: {R}, 3: {L, D}}},
		{"promote CURRENT is a no-op", []step{{"create", 1}, {"current", 2}, {"promote", 2}},
			map[int64][]Stage{1: {R}, 2: {C, L}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p stagePointers
			for _, s := range tc.steps {
				switch s.op {
				case "create":
					p.created(s.n)
				case "current":
					p.newVersion(s.n, StageCurrent)
				case "pending":
					p.newVersion(s.n, StagePending)
				case "promote":
					p.promote(s.n)
				}
			}
			check := func(got func(n int64) []Stage) {
				for n, want := range tc.want {
					if g := got(n); !slices.Equal(g, want) {
						t.Errorf("version %d stages %v, want %v", n, g, want)
					}
				}
			}
			check(p.stagesOf)

			// The same sequence through the service.
			e := newEnv(t)
			var id string
			for i, s := range tc.steps {
				v := fmt.Sprintf("value-%d", i)
				switch s.op {
				case "create":
					id = e.create(t, "s", v).ID
				case "current":
					e.put(t, id, v, "")
				case "pending":
					e.put(t, id, v, StagePending)
				case "promote":
					e.promote(t, id, s.n)
				}
			}
			check(func(n int64) []Stage {
				v, err := e.s.GetSecretVersion(e.ctx, id, n)
				if err != nil {
					t.Fatal(err)
				}
				return v.Stages
			})
			sec, err := e.s.GetSecret(e.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if sec.CurrentVersionNumber != p.Current {
				t.Errorf("currentVersionNumber %d, want %d", sec.CurrentVersionNumber, p.Current)
			}
			// CURRENT by default reads the CURRENT version's content.
			wantIdx := -1
			for i, s := range tc.steps {
				if s.n == p.Current && s.op != "promote" {
					wantIdx = i
				}
			}
			if got := e.read(t, id, BundleSelector{}); got != fmt.Sprintf("value-%d", wantIdx) {
				t.Errorf("CURRENT bundle %q, want value-%d", got, wantIdx)
			}
		})
	}
}
