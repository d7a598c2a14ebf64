package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coffer-vault/coffer/pkg/secretcache"
	"github.com/coffer-vault/coffer/pkg/securefile"
)

// Authentication types, named as the oci CLI names them.
const (
	AuthAPIKey            = "api_key"
	AuthInstancePrincipal = "instance_principal"
	AuthResourcePrincipal = "resource_principal"
)

// Defaults applied to a configuration that leaves a field out.
const (
	DefaultRefreshInterval = 5 * time.Minute
	DefaultJitter          = 0.1
	DefaultActionTimeout   = 30 * time.Second
	// MinRefreshInterval keeps a typo ("1s") from turning the agent into a
	// load generator.
	MinRefreshInterval = time.Second
	// maxConfigSize bounds what Parse reads.
	maxConfigSize = 1 << 20
	// maxTemplateSize bounds a template's source.
	maxTemplateSize = 256 << 10
)

// Config is the agent's configuration file, in JSON. See the package
// documentation for an example.
type Config struct {
	// Auth says how the agent signs its requests.
	Auth Auth `json:"auth"`
	// Endpoint is the Secrets service URL (Coffer's server URL, e.g.
	// "https://coffer.example:8443"); empty means the SDK's endpoint for
	// the region.
	Endpoint string `json:"endpoint,omitempty"`
	// Region overrides the region of the auth method.
	Region string `json:"region,omitempty"`
	// RefreshInterval is the time between two reads of every secret
	// ("5m"; at least 1s). Default 5 minutes.
	RefreshInterval Duration `json:"refresh_interval,omitempty"`
	// Jitter spreads refreshes: each wait is the interval times a random
	// factor in [1-Jitter, 1+Jitter]. Default 0.1; at most 0.5.
	Jitter *float64 `json:"jitter,omitempty"`
	// ActionTimeout bounds an on-change command. Default 30s.
	ActionTimeout Duration `json:"action_timeout,omitempty"`
	// Files are the files the agent keeps up to date.
	Files []File `json:"files"`
}

// Auth names the authentication method.
type Auth struct {
	// Type is api_key (default), instance_principal or resource_principal.
	Type string `json:"type,omitempty"`
	// ConfigFile and Profile locate the API key for api_key (default
	// ~/.oci/config and DEFAULT).
	ConfigFile string `json:"config_file,omitempty"`
	Profile    string `json:"profile,omitempty"`
	// PassphraseEnv names an environment variable holding the private
	// key's passphrase, if it has one (never the passphrase itself).
	PassphraseEnv string `json:"passphrase_env,omitempty"`
}

// File is one rendered file: either the raw content of one secret
// (Secret) or a template over named secrets (Secrets + Template).
type File struct {
	// Path is where the file is written; a relative path is taken from
	// the configuration file's directory. Its directory must exist.
	Path string `json:"path"`
	// Secret, for a raw file, is the secret whose decoded content is the
	// file's content.
	Secret *SecretRef `json:"secret,omitempty"`
	// Secrets, for a template, names the secrets the template reads with
	// {{ secret "name" }}.
	Secrets map[string]SecretRef `json:"secrets,omitempty"`
	// Template is a Go text/template (see the package documentation for
	// its functions). TemplateFile reads it from a file instead.
	Template     string `json:"template,omitempty"`
	TemplateFile string `json:"template_file,omitempty"`
	// Mode is the octal file mode ("0640"). Default "0600".
	Mode string `json:"mode,omitempty"`
	// Owner is "uid:gid", "user:group" or "user" (its primary group).
	// Default: the agent's own user. Needs privilege to differ from it.
	Owner string `json:"owner,omitempty"`
	// OnChange runs after the file's content changes.
	OnChange *Action `json:"on_change,omitempty"`
}

// SecretRef selects a secret (by OCID, or by vault OCID + name) and
// optionally a version (by stage, number or name; CURRENT by default).
type SecretRef struct {
	ID          string `json:"id,omitempty"`
	VaultID     string `json:"vault_id,omitempty"`
	Name        string `json:"name,omitempty"`
	Stage       string `json:"stage,omitempty"`
	Version     int64  `json:"version,omitempty"`
	VersionName string `json:"version_name,omitempty"`
}

// Action is what happens after a file changes: a command (run without a
// shell) or a signal to the process named by a pid file.
type Action struct {
	Command []string      `json:"command,omitempty"`
	Signal  *SignalAction `json:"signal,omitempty"`
}

// SignalAction sends Signal ("SIGHUP", "HUP", "USR1"...) to the process
// whose id is in PidFile.
type SignalAction struct {
	PidFile string `json:"pid_file"`
	Signal  string `json:"signal"`
}

// Duration is a time.Duration written as a Go duration string ("90s").
type Duration time.Duration

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`want a duration string such as "5m"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("bad duration %q: want a duration such as \"5m\" or \"90s\"", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// ConfigError is a mistake in the configuration, naming the field
// ("files[1].mode") so that a user can find it.
type ConfigError struct {
	Field string
	Err   error
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return "agent config: " + e.Err.Error()
	}
	return "agent config: " + e.Field + ": " + e.Err.Error()
}

func (e *ConfigError) Unwrap() error { return e.Err }

func cfgErr(field, format string, args ...any) error {
	return &ConfigError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Load reads and checks the configuration file at path. Relative file
// paths in it are taken from path's directory.
func Load(path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &ConfigError{Err: err} // "open PATH: ..."
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, &ConfigError{Err: err} // "read PATH: ..."
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	return Compile(cfg, filepath.Dir(abs))
}

// Parse decodes a configuration. Unknown fields and trailing data are
// errors, so a misspelt field is not silently ignored. It does not check
// the values: Compile does.
func Parse(data []byte) (*Config, error) {
	if len(data) > maxConfigSize {
		return nil, &ConfigError{Err: fmt.Errorf("larger than %d bytes", maxConfigSize)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		return nil, decodeError(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &ConfigError{Err: errors.New("unexpected data after the JSON object")}
	}
	return &cfg, nil
}

func decodeError(data []byte, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &ConfigError{Field: te.Field, Err: fmt.Errorf("want %s, got JSON %s", te.Type, te.Value)}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return &ConfigError{Err: fmt.Errorf("line %d: %w", line, err)}
	}
	return &ConfigError{Err: err}
}

// Plan is a checked configuration, ready to run: paths resolved, owners
// looked up, templates parsed, secret references turned into cache keys.
type Plan struct {
	Endpoint        string
	Region          string
	Auth            Auth
	RefreshInterval time.Duration
	Jitter          float64
	ActionTimeout   time.Duration
	Files           []*FilePlan
}

// FilePlan is one checked File.
type FilePlan struct {
	Path  string
	Mode  os.FileMode
	Owner *securefile.Owner
	// Keys maps the names the template uses (or "" for a raw file) to the
	// secret versions they read.
	Keys map[string]secretcache.Key
	// raw is set for a raw file; tmpl for a template.
	raw    bool
	tmpl   *Template
	Action *Action
	field  string // "files[i]", for messages
}

var secretNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,63}$`)

// Compile checks cfg and resolves it; relative paths are taken from dir.
// The first mistake is returned as a *ConfigError naming the field.
func Compile(cfg *Config, dir string) (*Plan, error) {
	p := &Plan{
		Endpoint:        cfg.Endpoint,
		Region:          cfg.Region,
		Auth:            cfg.Auth,
		RefreshInterval: time.Duration(cfg.RefreshInterval),
		Jitter:          DefaultJitter,
		ActionTimeout:   time.Duration(cfg.ActionTimeout),
	}
	switch p.Auth.Type {
	case "":
		p.Auth.Type = AuthAPIKey
	case AuthAPIKey, AuthInstancePrincipal, AuthResourcePrincipal:
	default:
		return nil, cfgErr("auth.type", "want %s, %s or %s, got %q", AuthAPIKey, AuthInstancePrincipal, AuthResourcePrincipal, p.Auth.Type)
	}
	if p.Auth.Type != AuthAPIKey && (p.Auth.ConfigFile != "" || p.Auth.Profile != "" || p.Auth.PassphraseEnv != "") {
		return nil, cfgErr("auth", "config_file, profile and passphrase_env apply to api_key only, not %s", p.Auth.Type)
	}
	if p.Auth.ConfigFile != "" && !strings.HasPrefix(p.Auth.ConfigFile, "~/") {
		p.Auth.ConfigFile = resolve(dir, p.Auth.ConfigFile)
	}
	if p.Endpoint != "" {
		if err := checkEndpoint(p.Endpoint); err != nil {
			return nil, &ConfigError{Field: "endpoint", Err: err}
		}
	}
	switch {
	case p.RefreshInterval == 0:
		p.RefreshInterval = DefaultRefreshInterval
	case p.RefreshInterval < MinRefreshInterval:
		return nil, cfgErr("refresh_interval", "%v is shorter than the minimum %v", p.RefreshInterval, MinRefreshInterval)
	}
	if cfg.Jitter != nil {
		j := *cfg.Jitter
		if !(j >= 0 && j <= 0.5) {
			return nil, cfgErr("jitter", "want a fraction between 0 and 0.5, got %v", j)
		}
		p.Jitter = j
	}
	switch {
	case p.ActionTimeout == 0:
		p.ActionTimeout = DefaultActionTimeout
	case p.ActionTimeout < 0:
		return nil, cfgErr("action_timeout", "must be positive")
	}
	if len(cfg.Files) == 0 {
		return nil, cfgErr("files", "no files: nothing to do")
	}
	seen := make(map[string]int)
	for i := range cfg.Files {
		field := fmt.Sprintf("files[%d]", i)
		fp, err := compileFile(&cfg.Files[i], field, dir)
		if err != nil {
			return nil, err
		}
		if j, dup := seen[fp.Path]; dup {
			return nil, cfgErr(field+".path", "%s is also the path of files[%d]", fp.Path, j)
		}
		seen[fp.Path] = i
		p.Files = append(p.Files, fp)
	}
	return p, nil
}

func checkEndpoint(ep string) error {
	if !strings.HasPrefix(ep, "https://") && !strings.HasPrefix(ep, "http://") {
		return fmt.Errorf("want an http:// or https:// URL, got %q", ep)
	}
	rest := ep[strings.Index(ep, "://")+3:]
	if rest == "" || strings.ContainsAny(rest, "/?#") {
		// The SDK refuses an endpoint with a path, even "/".
		return fmt.Errorf("want scheme://host[:port] with no path, got %q", ep)
	}
	return nil
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

func compileFile(f *File, field, dir string) (*FilePlan, error) {
	fp := &FilePlan{field: field, Keys: make(map[string]secretcache.Key)}
	if f.Path == "" {
		return nil, cfgErr(field+".path", "missing")
	}
	if strings.ContainsRune(f.Path, 0) {
		return nil, cfgErr(field+".path", "contains a NUL byte")
	}
	fp.Path = resolve(dir, f.Path)
	if strings.HasSuffix(f.Path, "/") || filepath.Base(fp.Path) == "." || fp.Path == "/" {
		return nil, cfgErr(field+".path", "%q names a directory, not a file", f.Path)
	}

	hasTemplate := f.Template != "" || f.TemplateFile != ""
	switch {
	case f.Secret != nil && (len(f.Secrets) > 0 || hasTemplate):
		return nil, cfgErr(field, "give either secret (raw content) or secrets and template, not both")
	case f.Secret != nil:
		k, err := f.Secret.key(field + ".secret")
		if err != nil {
			return nil, err
		}
		fp.Keys[""] = k
		fp.raw = true
	case !hasTemplate:
		return nil, cfgErr(field, "needs secret (raw content) or secrets and template")
	case f.Template != "" && f.TemplateFile != "":
		return nil, cfgErr(field, "give template or template_file, not both")
	case len(f.Secrets) == 0:
		return nil, cfgErr(field+".secrets", "a template needs at least one secret")
	default:
		for name, ref := range f.Secrets {
			sf := field + ".secrets." + name
			if !secretNameRE.MatchString(name) {
				return nil, cfgErr(sf, "bad name: want letters, digits, _ . - (at most 64, not starting with a digit)")
			}
			k, err := ref.key(sf)
			if err != nil {
				return nil, err
			}
			fp.Keys[name] = k
		}
		src, tf := f.Template, field+".template"
		if f.TemplateFile != "" {
			tf = field + ".template_file"
			b, err := readTemplate(resolve(dir, f.TemplateFile))
			if err != nil {
				return nil, &ConfigError{Field: tf, Err: err}
			}
			src = string(b)
		}
		names := make([]string, 0, len(f.Secrets))
		for n := range f.Secrets {
			names = append(names, n)
		}
		t, err := ParseTemplate(fp.Path, src, names)
		if err != nil {
			return nil, &ConfigError{Field: tf, Err: err}
		}
		fp.tmpl = t
	}

	fp.Mode = securefile.DefaultMode
	if f.Mode != "" {
		m, err := parseMode(f.Mode)
		if err != nil {
			return nil, &ConfigError{Field: field + ".mode", Err: err}
		}
		fp.Mode = m
	}
	if f.Owner != "" {
		o, err := parseOwner(f.Owner)
		if err != nil {
			return nil, &ConfigError{Field: field + ".owner", Err: err}
		}
		fp.Owner = o
	}
	if f.OnChange != nil {
		if err := f.OnChange.check(field + ".on_change"); err != nil {
			return nil, err
		}
		a := *f.OnChange
		if a.Signal != nil {
			s := *a.Signal
			s.PidFile = resolve(dir, s.PidFile)
			a.Signal = &s
		}
		fp.Action = &a
	}
	return fp, nil
}

func readTemplate(path string) ([]byte, error) {
	// O_NONBLOCK: a FIFO or device named by mistake must not hang the
	// agent at start; it is refused below.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTemplateSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxTemplateSize {
		return nil, fmt.Errorf("larger than %d bytes", maxTemplateSize)
	}
	return b, nil
}

// key turns a reference into a cache key, checking it.
func (r SecretRef) key(field string) (secretcache.Key, error) {
	var k secretcache.Key
	switch {
	case r.ID != "" && (r.VaultID != "" || r.Name != ""):
		return k, cfgErr(field, "give id, or vault_id and name, not both")
	case r.ID != "":
		if !strings.HasPrefix(r.ID, "ocid1.") {
			return k, cfgErr(field+".id", "want a secret OCID (ocid1.vaultsecret...), got %q", r.ID)
		}
		k = secretcache.ByID(r.ID)
	case r.VaultID == "" && r.Name == "":
		return k, cfgErr(field, "needs id, or vault_id and name")
	case r.VaultID == "":
		return k, cfgErr(field+".vault_id", "missing (a name is unique only within its vault)")
	case r.Name == "":
		return k, cfgErr(field+".name", "missing")
	default:
		if !strings.HasPrefix(r.VaultID, "ocid1.") {
			return k, cfgErr(field+".vault_id", "want a vault OCID (ocid1.vault...), got %q", r.VaultID)
		}
		k = secretcache.ByName(r.VaultID, r.Name)
	}
	n := 0
	if r.Stage != "" {
		n++
		st := secretcache.Stage(strings.ToUpper(r.Stage))
		switch st {
		case secretcache.StageCurrent, secretcache.StagePending, secretcache.StageLatest,
			secretcache.StagePrevious, secretcache.StageDeprecated:
		default:
			return k, cfgErr(field+".stage", "want CURRENT, PENDING, LATEST, PREVIOUS or DEPRECATED, got %q", r.Stage)
		}
		k = k.AtStage(st)
	}
	if r.Version != 0 {
		n++
		if r.Version < 0 {
			return k, cfgErr(field+".version", "must be positive")
		}
		k = k.AtVersion(r.Version)
	}
	if r.VersionName != "" {
		n++
		k = k.AtVersionName(r.VersionName)
	}
	if n > 1 {
		return k, cfgErr(field, "give at most one of stage, version and version_name")
	}
	if n == 0 {
		k = k.AtStage(secretcache.StageCurrent)
	}
	return k, nil
}

func parseMode(s string) (os.FileMode, error) {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("want an octal mode such as \"0640\", got %q", s)
	}
	if v > 0o777 {
		return 0, fmt.Errorf("%q has bits other than permissions (setuid, setgid, sticky)", s)
	}
	if v&0o400 == 0 {
		return 0, fmt.Errorf("%q does not let the owner read the file", s)
	}
	return os.FileMode(v), nil
}

// parseOwner accepts "uid:gid", "user:group" or "user" (with the user's
// primary group), names looked up in the system's user database.
func parseOwner(s string) (*securefile.Owner, error) {
	us, gs, hasGroup := strings.Cut(s, ":")
	if us == "" || (hasGroup && gs == "") {
		return nil, fmt.Errorf("want uid:gid, user:group or user, got %q", s)
	}
	o := &securefile.Owner{}
	var primary string
	if uid, err := strconv.Atoi(us); err == nil {
		if uid < 0 {
			return nil, fmt.Errorf("negative uid %d", uid)
		}
		o.UID = uid
		if !hasGroup {
			u, err := user.LookupId(us)
			if err != nil {
				return nil, fmt.Errorf("uid %d without a group: %w", uid, err)
			}
			primary = u.Gid
		}
	} else {
		u, err := user.Lookup(us)
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", us, err)
		}
		if o.UID, err = strconv.Atoi(u.Uid); err != nil {
			return nil, fmt.Errorf("user %q has a non-numeric uid", us)
		}
		primary = u.Gid
	}
	if !hasGroup {
		gs = primary
	}
	if gid, err := strconv.Atoi(gs); err == nil {
		if gid < 0 {
			return nil, fmt.Errorf("negative gid %d", gid)
		}
		o.GID = gid
		return o, nil
	}
	g, err := user.LookupGroup(gs)
	if err != nil {
		return nil, fmt.Errorf("group %q: %w", gs, err)
	}
	if o.GID, err = strconv.Atoi(g.Gid); err != nil {
		return nil, fmt.Errorf("group %q has a non-numeric gid", gs)
	}
	return o, nil
}

func (a *Action) check(field string) error {
	switch {
	case len(a.Command) > 0 && a.Signal != nil:
		return cfgErr(field, "give command or signal, not both")
	case len(a.Command) > 0:
		if a.Command[0] == "" {
			return cfgErr(field+".command[0]", "empty program name")
		}
		for i, arg := range a.Command {
			if strings.ContainsRune(arg, 0) {
				return cfgErr(fmt.Sprintf("%s.command[%d]", field, i), "contains a NUL byte")
			}
		}
	case a.Signal != nil:
		if a.Signal.PidFile == "" {
			return cfgErr(field+".signal.pid_file", "missing")
		}
		if strings.ContainsRune(a.Signal.PidFile, 0) {
			return cfgErr(field+".signal.pid_file", "contains a NUL byte")
		}
		if _, err := ParseSignal(a.Signal.Signal); err != nil {
			return &ConfigError{Field: field + ".signal.signal", Err: err}
		}
	default:
		return cfgErr(field, "needs command or signal")
	}
	return nil
}

// signals are the signals an on-change action may send: the ones programs
// use to reload, plus the terminating ones for programs restarted by a
// supervisor.
var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
	"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
	"WINCH": syscall.SIGWINCH,
}

// ParseSignal reads a signal name with or without the SIG prefix, in
// any case ("SIGHUP", "hup").
func ParseSignal(s string) (syscall.Signal, error) {
	n := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if sig, ok := signals[n]; ok {
		return sig, nil
	}
	return 0, fmt.Errorf("want one of SIGHUP, SIGUSR1, SIGUSR2, SIGTERM, SIGINT, SIGQUIT, SIGWINCH, got %q", s)
}
