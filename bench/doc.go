// Package bench measures the capacity of a Coffer server: requests per
// second and latency of the secret-read and crypto paths, with the server
// running as a separate process and loaded by [loadgen], a generator that
// replays requests signed beforehand exactly as the official OCI Go SDK
// signs them, so the figures describe the server and not an SDK client.
//
// # Running
//
// The load table builds cmd/coffer, prepares data directories (10 and
// 100,000 secrets; 10 and 10,000 policy statements), starts
// `coffer server --dev` on each and measures GetSecretBundle over HTTP and
// HTTPS and KmsCrypto Encrypt of 1 KiB, each next to a baseline measured in
// the same run: a minimal net/http server, also a separate process,
// returning a body of the same size and type. It reports req/s, p50, p99,
// the ratio to the baseline, and the CPU seconds of the server and of the
// generator during the measured windows.
//
//	COFFER_BENCH=1 go test ./bench -run TestLoadTable -v -timeout 30m
//
// Environment:
//
//	COFFER_BENCH=1            run the table (a plain go test ./... skips it)
//	COFFER_BENCH_SHORT=1      only the 10-secret rows (as does -short)
//	COFFER_BENCH_SECONDS=N    measured seconds per row and side (default 10)
//	COFFER_BENCH_OUT=FILE     also write the table to FILE
//	COFFER_BENCH_BIN=FILE     measure this coffer binary instead of building
//	                          the tree's (an older build, say: the data sets
//	                          are still prepared by this tree's code)
//	COFFER_BENCH_PROFILE=DIR  write 10 s CPU profiles of the server under the
//	                          base GetSecretBundle and Encrypt loads to DIR
//
// The full table takes about 10 minutes on two cores, most of it creating
// 100,000 secrets. The generator's own cost per request is measured by
//
//	go test ./bench/loadgen -run '^$' -bench .
package bench
