package iam

import (
	"errors"
	"fmt"
	"strings"
)

// SyntaxError is a statement or matching rule that does not parse or names
// something Coffer does not know. Pos lets an editor or the CLI point at the
// spot; Expected says what would have been accepted there.
type SyntaxError struct {
	// Pos is the 1-based byte position in the input; len(input)+1 means the
	// end of the input.
	Pos int
	// Expected describes what the parser wanted, e.g. `a verb (inspect, read,
	// use, manage) or a permission list`. Empty when Msg says it all.
	Expected string
	// Found is the offending token as written; empty at the end of the input.
	Found string
	// Msg replaces the expected/found form for errors that are not about the
	// next token (an unknown group domain, a bad time value).
	Msg string
	// Err is a sentinel callers may test with errors.Is, e.g. ErrUnsupported.
	Err error
}

// ErrUnsupported marks statements that parse but that Coffer does not serve:
// cross-tenancy Endorse, Admit and Define (Coffer has one tenancy).
var ErrUnsupported = errors.New("unsupported statement")

// Error formats the error as "position N: expected X, found Y".
func (e *SyntaxError) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("position %d: %s", e.Pos, e.Msg)
	}
	found := "end of input"
	if e.Found != "" {
		found = fmt.Sprintf("%q", e.Found)
	}
	return fmt.Sprintf("position %d: expected %s, found %s", e.Pos, e.Expected, found)
}

// Unwrap returns the sentinel, if any.
func (e *SyntaxError) Unwrap() error { return e.Err }

// scanner walks a statement or rule. The grammar is small and context
// dependent (a slash separates a domain from a group name in a subject but
// opens a pattern in a condition), so the parser asks for what it expects
// next instead of consuming a token stream.
type scanner struct {
	src string
	pos int // 0-based byte offset
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v'
}

// isSpecial reports the punctuation that ends a word.
func isSpecial(b byte) bool {
	switch b {
	case '{', '}', '(', ')', ',', '\'', '/', ':', '=', '!', '"':
		return true
	}
	return false
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.src) && isSpace(s.src[s.pos]) {
		s.pos++
	}
}

func (s *scanner) eof() bool {
	s.skipSpace()
	return s.pos >= len(s.src)
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.skipSpace()
	if s.pos >= len(s.src) {
		return 0
	}
	return s.src[s.pos]
}

// peekWord returns the next word without consuming it.
func (s *scanner) peekWord() string {
	save := s.pos
	w := s.word()
	s.pos = save
	return w
}

// word consumes and returns the next word (a run of non-space, non-special
// bytes); "" if the next token is not a word.
func (s *scanner) word() string {
	s.skipSpace()
	start := s.pos
	for s.pos < len(s.src) && !isSpace(s.src[s.pos]) && !isSpecial(s.src[s.pos]) {
		s.pos++
	}
	return s.src[start:s.pos]
}

// token returns a short rendering of whatever comes next, for error messages.
func (s *scanner) token() string {
	s.skipSpace()
	if s.pos >= len(s.src) {
		return ""
	}
	save := s.pos
	defer func() { s.pos = save }()
	if w := s.word(); w != "" {
		return w
	}
	b := s.src[s.pos]
	if b == '\'' {
		end := strings.IndexByte(s.src[s.pos+1:], '\'')
		if end >= 0 && end < 60 {
			return s.src[s.pos : s.pos+end+2]
		}
	}
	if b == '!' && s.pos+1 < len(s.src) && s.src[s.pos+1] == '=' {
		return "!="
	}
	return s.src[s.pos : s.pos+1]
}

// errExpected builds a SyntaxError at the next token.
func (s *scanner) errExpected(expected string) *SyntaxError {
	found := s.token()
	return &SyntaxError{Pos: s.pos + 1, Expected: expected, Found: found}
}

// errAt builds a free-form SyntaxError at a 0-based offset.
func errAt(off int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Pos: off + 1, Msg: fmt.Sprintf(format, args...)}
}

// keyword consumes the next word if it equals kw, ignoring case.
func (s *scanner) keyword(kw string) bool {
	save := s.pos
	if strings.EqualFold(s.word(), kw) {
		return true
	}
	s.pos = save
	return false
}

// punct consumes the byte b if it comes next.
func (s *scanner) punct(b byte) bool {
	if s.peek() == b {
		s.pos++
		return true
	}
	return false
}

// quoted consumes a single-quoted string and returns its contents. There is
// no escape: OCI values cannot contain a single quote.
func (s *scanner) quoted() (string, bool) {
	if s.peek() != '\'' {
		return "", false
	}
	end := strings.IndexByte(s.src[s.pos+1:], '\'')
	if end < 0 {
		return "", false
	}
	v := s.src[s.pos+1 : s.pos+1+end]
	s.pos += end + 2
	return v, true
}

// name consumes a bare word or a quoted name.
func (s *scanner) name() (string, bool) {
	if s.peek() == '\'' {
		return s.quoted()
	}
	w := s.word()
	return w, w != ""
}
