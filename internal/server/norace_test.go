//go:build !race

package server_test

import "time"

// localWakeBound is how soon a long poll on the writing node answers.
const localWakeBound = 100 * time.Millisecond
