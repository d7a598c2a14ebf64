package deploy

import (
	"bufio"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, ...
	Args string
	Line int
}

type stage struct {
	Base, Name string
	Body       []instruction
}

// parseDockerfile splits a Dockerfile into stages. It knows only what the
// checks below need: comments, line continuations and FROM ... AS name.
func parseDockerfile(t *testing.T, path string) (args map[string]string, stages []stage) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	args = map[string]string{}
	var ins []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(line)
		cmd, rest, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		ins = append(ins, instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(rest), Line: start})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur.Len() != 0 {
		t.Fatalf("%s: ends inside a continued line", path)
	}
	for _, in := range ins {
		switch {
		case in.Cmd == "FROM":
			f := strings.Fields(in.Args)
			s := stage{Base: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.Name = f[2]
			}
			stages = append(stages, s)
		case len(stages) == 0:
			if in.Cmd != "ARG" {
				t.Fatalf("%s:%d: %s before the first FROM", path, in.Line, in.Cmd)
			}
			k, v, _ := strings.Cut(in.Args, "=")
			args[k] = v
		default:
			stages[len(stages)-1].Body = append(stages[len(stages)-1].Body, in)
		}
	}
	return args, stages
}

func (s stage) Get(cmd string) []instruction {
	var out []instruction
	for _, in := range s.Body {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// goDirective reads the go version from go.mod.
func goDirective(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

// buildinfoVars are the package-level string variables of
// internal/buildinfo, which -ldflags -X may set.
func buildinfoVars(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../internal/buildinfo/buildinfo.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
			for _, s := range g.Specs {
				for _, n := range s.(*ast.ValueSpec).Names {
					names = append(names, n.Name)
				}
			}
		}
	}
	return names
}

// checkStamps fails when text sets, with -X, a buildinfo variable that does
// not exist (the linker ignores those silently), or sets none.
func checkStamps(t *testing.T, what, text string) {
	t.Helper()
	vars := buildinfoVars(t)
	re := regexp.MustCompile(`-X \S*internal/buildinfo\.(\w+)=`)
	ms := re.FindAllStringSubmatch(text, -1)
	if len(ms) == 0 {
		t.Errorf("%s stamps no version", what)
	}
	for _, m := range ms {
		if !slices.Contains(vars, m[1]) {
			t.Errorf("%s sets buildinfo.%s, which does not exist (have %v)", what, m[1], vars)
		}
	}
}

func TestDockerfile(t *testing.T) {
	args, stages := parseDockerfile(t, "../Dockerfile")
	if len(stages) < 2 {
		t.Fatalf("%d stages: want a builder and a runtime", len(stages))
	}
	if got, want := args["GO_VERSION"], goDirective(t); got != want {
		t.Errorf("Dockerfile GO_VERSION %s, go.mod says go %s", got, want)
	}
	if b := stages[0].Base; b != "golang:${GO_VERSION}-bookworm" {
		t.Errorf("builder FROM %s: want golang:${GO_VERSION}-...", b)
	}
	var all strings.Builder
	for _, s := range stages {
		for _, in := range s.Get("RUN") {
			all.WriteString(in.Args + "\n")
		}
		for _, in := range s.Get("ENV") {
			all.WriteString(in.Args + "\n")
		}
	}
	checkStamps(t, "Dockerfile", all.String())
	if !strings.Contains(all.String(), "CGO_ENABLED=0 go build") {
		t.Error("the default binary is not built with CGO_ENABLED=0")
	}

	// Runtime stages: the last (default) and hsm.
	names := map[string]bool{}
	for _, s := range stages {
		names[s.Name] = true
	}
	runtimes := []stage{stages[len(stages)-1]}
	for _, s := range stages {
		if s.Name == "hsm" {
			runtimes = append(runtimes, s)
		}
	}
	if len(runtimes) != 2 {
		t.Error("no hsm stage")
	}
	if !strings.HasPrefix(runtimes[0].Base, "gcr.io/distroless/static") {
		t.Errorf("default runtime FROM %s: want distroless/static", runtimes[0].Base)
	}
	for _, s := range runtimes {
		label := "stage " + s.Base
		if names[s.Base] {
			t.Errorf("%s: a runtime stage must not start from a build stage", label)
		}
		users := s.Get("USER")
		if len(users) == 0 {
			t.Errorf("%s: no USER (would run as root)", label)
		} else if u := strings.Split(users[len(users)-1].Args, ":")[0]; u == "root" || u == "0" {
			t.Errorf("%s: USER %s", label, u)
		}
		expectOne(t, label, s, "EXPOSE", "8420")
		expectOne(t, label, s, "VOLUME", `["/var/lib/coffer"]`)
		expectOne(t, label, s, "ENTRYPOINT", `["coffer"]`)
		hc := s.Get("HEALTHCHECK")
		if len(hc) != 1 || !strings.Contains(hc[0].Args, `CMD ["coffer", "healthcheck"`) {
			t.Errorf("%s: HEALTHCHECK %v: want the binary's own healthcheck", label, hc)
		}
		cmds := s.Get("CMD")
		var cmd []string
		if len(cmds) != 1 || json.Unmarshal([]byte(cmds[0].Args), &cmd) != nil || len(cmd) == 0 || cmd[0] != "server" ||
			!slices.Contains(cmd, "--data-dir") || !slices.Contains(cmd, "/var/lib/coffer") {
			t.Errorf("%s: CMD %v: want an exec-form server command with --data-dir /var/lib/coffer", label, cmds)
		}
		for _, in := range s.Get("COPY") {
			if strings.HasPrefix(in.Args, ". ") {
				t.Errorf("%s: copies the whole context into a runtime image", label)
			}
		}
	}

	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "dist", "**/*.env", "*.unseal-key"} {
		if !slices.Contains(strings.Fields(string(ignore)), want) {
			t.Errorf(".dockerignore does not leave out %s", want)
		}
	}
}

func expectOne(t *testing.T, label string, s stage, cmd, args string) {
	t.Helper()
	got := s.Get(cmd)
	if len(got) != 1 || got[0].Args != args {
		t.Errorf("%s: %s %v, want %s %s", label, cmd, got, cmd, args)
	}
}
