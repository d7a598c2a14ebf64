package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	tests := []struct {
		name    string
		stamped Info
		bi      *debug.BuildInfo
		ok      bool
		want    Info
		line    string
	}{
		{
			name: "no build info",
			want: Info{Version: "devel"},
			line: "coffer devel ",
		},
		{
			name:    "stamped wins over the module version",
			stamped: Info{Version: "v1.2.3", Revision: "feedface", Time: "2020-01-01T00:00:00Z"},
			bi:      &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.9.0"}, Settings: vcs},
			ok:      true,
			want:    Info{Version: "v1.2.3", Revision: vcs[1].Value, Time: vcs[2].Value, Modified: true, GoVersion: "go1.26.8"},
			line:    "coffer v1.2.3 (0123456789ab, modified) go1.26.8",
		},
		{
			name:    "stamped revision where the toolchain recorded none",
			stamped: Info{Version: "v1.2.3", Revision: "feedfacefeedfacefeed", Time: "2020-01-01T00:00:00Z"},
			bi:      &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			ok:      true,
			want:    Info{Version: "v1.2.3", Revision: "feedfacefeedfacefeed", Time: "2020-01-01T00:00:00Z", GoVersion: "go1.26.8"},
			line:    "coffer v1.2.3 (feedfacefeed) go1.26.8",
		},
		{
			name: "go install module@version",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.9.0"}},
			ok:   true,
			want: Info{Version: "v0.9.0", GoVersion: "go1.26.8"},
			line: "coffer v0.9.0 go1.26.8",
		},
		{
			name: "checkout build",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs[:3]},
			ok:   true,
			want: Info{Version: "devel", Revision: vcs[1].Value, Time: vcs[2].Value, GoVersion: "go1.26.8"},
			line: "coffer devel (0123456789ab) go1.26.8",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fromBuildInfo(tt.stamped, tt.bi, tt.ok)
			if tt.want.GoVersion == "" {
				tt.want.GoVersion = got.GoVersion // runtime.Version(), whatever it is
				if got.GoVersion == "" {
					t.Fatal("no Go version")
				}
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if line := got.String(); !strings.HasPrefix(line, tt.line) {
				t.Fatalf("String() = %q, want prefix %q", line, tt.line)
			}
		})
	}
}

// The running test binary has build info; Get must use it and never
// return an empty version.
func TestGet(t *testing.T) {
	i := Get()
	if i.Version == "" || !strings.HasPrefix(i.GoVersion, "go") {
		t.Fatalf("Get() = %+v", i)
	}
}
