// Package buildinfo says which Coffer this binary is: the release version,
// the source revision and the Go toolchain, for `coffer version`, the start
// log line and the coffer_build_info metric.
package buildinfo

import (
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
)

// version, revision and commitTime are stamped by scripts/release and the
// Dockerfile with
//
//	-ldflags "-X github.com/coffer-vault/coffer/internal/buildinfo.version=v1.2.3"
//
// A `go install module@version` build needs no stamp: the module version
// comes from the build info. The revision and time the toolchain records
// (-buildvcs) take precedence; the stamps stand in where it records none:
// scripts/release builds with -buildvcs=false, the go command records
// nothing in a git worktree (.git is a file there), and a container build
// leaves .git out of its context. They stay plain string variables because
// -X can only set those.
var version, revision, commitTime string

// Info describes the running binary.
type Info struct {
	Version   string // release version, module version, or "devel"
	Revision  string // VCS commit, "" when the build did not record it
	Time      string // commit time (RFC 3339), "" when unknown
	Modified  bool   // the work tree had uncommitted changes
	GoVersion string
}

// Get reads the build information once per call; it is cheap enough for
// the few callers (a command, one log line, one metric).
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	return fromBuildInfo(Info{Version: version, Revision: revision, Time: commitTime}, bi, ok)
}

// fromBuildInfo is Get without the process globals, for tests: stamped
// holds the -X values.
func fromBuildInfo(stamped Info, bi *debug.BuildInfo, ok bool) Info {
	info := stamped
	info.GoVersion = runtime.Version()
	if !ok || bi == nil {
		if info.Version == "" {
			info.Version = "devel"
		}
		return info
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	if info.Version == "" {
		// "(devel)" is what the toolchain records for a build inside the
		// module's own checkout; it says nothing more than "devel".
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			info.Version = v
		} else {
			info.Version = "devel"
		}
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is the one-line form `coffer --version` prints.
func (i Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "coffer %s", i.Version)
	if i.Revision != "" {
		fmt.Fprintf(&b, " (%s", shortRev(i.Revision))
		if i.Modified {
			b.WriteString(", modified")
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, " %s", i.GoVersion)
	return b.String()
}

// LogAttrs are the fields of the server's start log line.
func (i Info) LogAttrs() []any {
	return []any{
		slog.String("version", i.Version),
		slog.String("revision", i.Revision),
		slog.Bool("modified", i.Modified),
		slog.String("go_version", i.GoVersion),
	}
}

func shortRev(r string) string {
	if len(r) > 12 {
		return r[:12]
	}
	return r
}
