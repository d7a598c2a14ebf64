package secrets

// stagePointers are the version numbers holding CURRENT, PENDING, LATEST and
// PREVIOUS (0: none). Every transition of the reference's table is a change
// of these four numbers; version records are not rewritten.
type stagePointers struct {
	Current  int64 `json:"current"`
	Pending  int64 `json:"pending"`
	Latest   int64 `json:"latest"`
	Previous int64 `json:"previous"`
}

// created: v1 = {CURRENT, LATEST}.
func (p *stagePointers) created(n int64) {
	*p = stagePointers{Current: n, Latest: n}
}

// newVersion records version n uploaded with stage CURRENT or PENDING.
//
// CURRENT: n = {CURRENT, LATEST}; old CURRENT -> PREVIOUS; old PREVIOUS ->
// DEPRECATED. An existing PENDING version is superseded and becomes
// DEPRECATED too (the reference leaves this open; a pending value older than
// the new current one must not be promoted by accident).
//
// PENDING: n = {PENDING, LATEST}; CURRENT and PREVIOUS unchanged; an earlier
// PENDING version becomes DEPRECATED.
func (p *stagePointers) newVersion(n int64, stage Stage) {
	p.Latest = n
	if stage == StagePending {
		p.Pending = n
		return
	}
	p.Previous = p.Current
	p.Current = n
	p.Pending = 0
}

// promote makes n CURRENT (promotion or roll-back): n loses PENDING; old
// CURRENT -> PREVIOUS; old PREVIOUS -> DEPRECATED; LATEST does not move.
// Promoting the CURRENT version changes nothing.
func (p *stagePointers) promote(n int64) {
	if p.Current == n {
		return
	}
	p.Previous = p.Current
	p.Current = n
	if p.Pending == n {
		p.Pending = 0
	}
}

// stagesOf lists the stages of version n in a fixed order.
func (p stagePointers) stagesOf(n int64) []Stage {
	var s []Stage
	if p.Current == n {
		s = append(s, StageCurrent)
	}
	if p.Pending == n {
		s = append(s, StagePending)
	}
	if p.Latest == n {
		s = append(s, StageLatest)
	}
	if p.Previous == n {
		s = append(s, StagePrevious)
	}
	if p.deprecated(n) {
		s = append(s, StageDeprecated)
	}
	return s
}

// deprecated: none of CURRENT, PENDING, PREVIOUS.
func (p stagePointers) deprecated(n int64) bool {
	return p.Current != n && p.Pending != n && p.Previous != n
}

// byStage returns the version holding stage, or 0.
func (p stagePointers) byStage(s Stage) int64 {
	switch s {
	case StageCurrent:
		return p.Current
	case StagePending:
		return p.Pending
	case StageLatest:
		return p.Latest
	case StagePrevious:
		return p.Previous
	}
	return 0
}
