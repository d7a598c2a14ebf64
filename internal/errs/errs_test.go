package errs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestErrorSaysEachThingOnce(t *testing.T) {
	const op Op = "secrets.GetSecretBundle"
	const inner Op = "kms.Decrypt"
	cause := errors.New("sql: no rows")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"message", E(NotFound, "secret not found"), "secret not found"},
		{"message and cause", Wrap(NotFound, cause, "secret not found"), "secret not found: sql: no rows"},
		{"operation", op.E(Invalid, "bad stage"), "secrets.GetSecretBundle: bad stage"},
		{"operation and cause", op.Wrap(Internal, cause, "read version"), "secrets.GetSecretBundle: read version: sql: no rows"},
		{"two operations", op.Err(inner.E(Disabled, "key disabled")), "secrets.GetSecretBundle: kms.Decrypt: key disabled"},
		{"same operation twice", op.Wrap(NotFound, op.E(NotFound, "secret not found"), "read"), "secrets.GetSecretBundle: read: secret not found"},
		{"same operation through a wrapper", op.Err(fmt.Errorf("step: %w", op.E(Invalid, "bad"))), "step: secrets.GetSecretBundle: bad"},
		{"same operation below a direct cause", op.Err(Wrap(Invalid, fmt.Errorf("step: %w", op.E(Invalid, "bad")), "outer")), "outer: step: secrets.GetSecretBundle: bad"},
		{"same message twice", Wrap(NotFound, E(NotFound, "secret not found"), "secret not found"), "secret not found"},
		{"same message through a wrapper", Wrap(NotFound, fmt.Errorf("x: %w", E(NotFound, "gone")), "gone"), "x: gone"},
		{"kind without message", op.Wrap(NotFound, cause, ""), "secrets.GetSecretBundle: not found: sql: no rows"},
		{"kind said by the cause's message", op.Err(E(NotFound, "secret not found")), "secrets.GetSecretBundle: secret not found"},
		{"kind said by a deeper kind", Wrap(Conflict, op.Wrap(Conflict, cause, ""), ""), "secrets.GetSecretBundle: conflict: sql: no rows"},
		{"internal kind is not spelled out", op.Err(cause), "secrets.GetSecretBundle: sql: no rows"},
		{"nothing at all", &Error{}, "internal error"},
		{"empty message, no operation", E(Invalid, ""), "invalid parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestAgentChainReadsOnce builds the chain the way the agent and its
// command do (the command, the refresh, a joined list of failures, each
// naming its own step) and checks that no part is said twice.
func TestAgentChainReadsOnce(t *testing.T) {
	const refresh Op = "agent.Refresh"
	errIncomplete := errors.New("incomplete")
	errSymlink := errors.New("target is a symbolic link")
	write := fmt.Errorf("securefile: write /srv/out.txt: %w", errSymlink)
	read := fmt.Errorf("secretcache: read ocid1.vaultsecret.oc1..a@CURRENT: %w", E(Unavailable, "service unavailable"))
	err := refresh.Err(fmt.Errorf("%w: %w", errIncomplete, errors.Join(read, write)))
	// The command adds nothing the refresh says; a second refresh.Err,
	// as a caller repeating the operation would add, changes nothing.
	err = refresh.Err(err)

	want := "agent.Refresh: incomplete: secretcache: read ocid1.vaultsecret.oc1..a@CURRENT: service unavailable\n" +
		"securefile: write /srv/out.txt: target is a symbolic link"
	if got := err.Error(); got != want {
		t.Fatalf("Error():\n got %q\nwant %q", got, want)
	}
	for _, part := range []string{"agent", "incomplete", "secretcache", "securefile", "/srv/out.txt", "symbolic link", "unavailable"} {
		if n := strings.Count(err.Error(), part); n != 1 {
			t.Errorf("%q said %d times in %q", part, n, err)
		}
	}
	if !errors.Is(err, errIncomplete) || !errors.Is(err, errSymlink) {
		t.Error("the sentinels are lost")
	}
	// The kind is the first classified error's, found through the join
	// (as KindOf always did), and not spelled out again: the read says it.
	if KindOf(err) != Unavailable {
		t.Errorf("KindOf = %v", KindOf(err))
	}
}

func TestOpErrKeepsKindAndMessage(t *testing.T) {
	const op Op = "identity.CreateUser"
	if op.Err(nil) != nil {
		t.Fatal("Err(nil) != nil")
	}
	base := E(AlreadyExists, "a user named bob exists")
	err := op.Err(base)
	if KindOf(err) != AlreadyExists || !Is(err, AlreadyExists) {
		t.Errorf("kind = %v", KindOf(err))
	}
	if Message(err) != "a user named bob exists" {
		t.Errorf("Message = %q", Message(err))
	}
	if !errors.Is(err, base) {
		t.Error("cause lost")
	}
	if again := op.Err(err); again != err {
		t.Error("Err wrapped an error that names its operation already")
	}
	var e *Error
	if !errors.As(err, &e) || e.Op != op {
		t.Errorf("outer error %#v, want op %s", e, op)
	}
}

// TestMessageIsCallerSafe: Message takes only Msg fields and kinds, never
// a cause's text or an operation.
func TestMessageIsCallerSafe(t *testing.T) {
	const op Op = "kms.Decrypt"
	secret := errors.New("pgx: row with key material 0xdeadbeef")
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{secret, ""},
		{fmt.Errorf("wrapped: %w", secret), ""},
		{Wrap(Invalid, secret, "bad ciphertext"), "bad ciphertext"},
		{op.Err(Wrap(Invalid, secret, "bad ciphertext")), "bad ciphertext"},
		{op.Wrap(Invalid, E(NotFound, "key not found"), ""), "key not found"},
		{op.Wrap(NotFound, secret, ""), "not found"},
		{fmt.Errorf("layer: %w", op.Err(secret)), "internal error"},
	}
	for _, tt := range tests {
		got := Message(tt.err)
		if got != tt.want {
			t.Errorf("Message(%v) = %q, want %q", tt.err, got, tt.want)
		}
		if strings.Contains(got, "deadbeef") || strings.Contains(got, string(op)) {
			t.Errorf("Message(%v) = %q leaks", tt.err, got)
		}
	}
}

func TestKindString(t *testing.T) {
	for k := Internal; k <= Unavailable; k++ {
		if s := k.String(); s == "" || strings.HasPrefix(s, "errs.Kind(") {
			t.Errorf("kind %d has no text", k)
		}
	}
	if s := Kind(99).String(); s != "errs.Kind(99)" {
		t.Errorf("Kind(99) = %q", s)
	}
}
