package changefeed

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
)

// A cursor is unpadded base64url of 8 bytes of sequence, 8 bytes of epoch
// and a 16-byte MAC over both under the deployment's key: opaque to
// clients, and one that was not issued here is recognised as such.
const (
	cursorRaw = 8 + 8 + 16
	// CursorLen is the length of a cursor's text.
	CursorLen = (cursorRaw*8 + 5) / 6
)

// ErrCursorSyntax is returned for a cursor that is not one this server's
// format could have written (a bad request); a well-formed cursor whose MAC
// or epoch does not match is no error but a reset.
var ErrCursorSyntax = errors.New("changefeed: malformed cursor")

// Cursor is a position in the feed.
type Cursor struct {
	Seq   uint64
	Epoch string // 16 hex digits
}

// MACFunc computes a keyed MAC of its parts (blindindex.Index.Of's shape).
type MACFunc func(parts ...string) string

func cursorMAC(mac MACFunc, raw []byte) []byte {
	m, err := base64.RawURLEncoding.DecodeString(mac("changes/cursor", hex.EncodeToString(raw[:16])))
	if err != nil || len(m) < 16 {
		// The MAC function is ours; a short answer is a wiring bug. An
		// all-zero MAC would accept forgeries, so refuse everything.
		panic("changefeed: MAC function returned no 16-byte value")
	}
	return m[:16]
}

// Encode returns c's text.
func (c Cursor) Encode(mac MACFunc) string {
	var raw [cursorRaw]byte
	binary.BigEndian.PutUint64(raw[:8], c.Seq)
	e, err := hex.DecodeString(c.Epoch)
	if err == nil && len(e) == 8 {
		copy(raw[8:16], e)
	}
	copy(raw[16:], cursorMAC(mac, raw[:]))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// ParseCursor reads a cursor's text. It returns ErrCursorSyntax when s is
// malformed, and ok false when s is well formed but was not issued by this
// deployment (its MAC does not match).
func ParseCursor(s string, mac MACFunc) (c Cursor, ok bool, err error) {
	if len(s) != CursorLen {
		return Cursor{}, false, ErrCursorSyntax
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) != cursorRaw {
		return Cursor{}, false, ErrCursorSyntax
	}
	if !hmac.Equal(raw[16:], cursorMAC(mac, raw)) {
		return Cursor{}, false, nil
	}
	return Cursor{Seq: binary.BigEndian.Uint64(raw[:8]), Epoch: hex.EncodeToString(raw[8:16])}, true, nil
}
