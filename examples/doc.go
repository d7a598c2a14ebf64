// Package examples holds the programs the README quotes: ordinary code on the
// official OCI SDKs, which the package's tests compile and run against a dev
// server, so that what a reader copies works as written.
package examples
