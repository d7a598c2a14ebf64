package kms

import (
	"crypto/rand"
	"encoding/hex"
)

func newETag() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
