package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// HealthcheckURLEnv overrides the default URL of `coffer healthcheck`, so a
// container's HEALTHCHECK can follow --listen and --tls-cert without a
// rebuilt image.
const HealthcheckURLEnv = "COFFER_HEALTHCHECK_URL"

const defaultHealthcheckURL = "http://127.0.0.1:8420/healthz"

// healthcheckCommand probes a server's /healthz. Minimal container images
// (distroless) have no curl or wget, so the binary probes itself.
func healthcheckCommand() *cobra.Command {
	var url, caFile string
	var timeout time.Duration
	var insecure bool
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the server's /healthz answers 200 (ready and unsealed), 1 otherwise",
		Long: `Probe a Coffer server's /healthz, for container health checks.

The URL defaults to $` + HealthcheckURLEnv + `, then ` + defaultHealthcheckURL + `.
A sealed or starting server answers 503 and counts as unhealthy.`,
		Example: `  coffer healthcheck
  coffer healthcheck --url https://127.0.0.1:8420/healthz --ca-file /etc/coffer/ca.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				url = os.Getenv(HealthcheckURLEnv)
			}
			if url == "" {
				url = defaultHealthcheckURL
			}
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			if caFile != "" {
				pem, err := os.ReadFile(caFile)
				if err != nil {
					return fmt.Errorf("CA file: %w", err)
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					return fmt.Errorf("CA file %s: no PEM certificate", caFile)
				}
				tr.TLSClientConfig.RootCAs = pool
			}
			// The probe sends no credentials and only reads a status, so
			// an unverified certificate exposes nothing; it lets a probe
			// on 127.0.0.1 accept a certificate issued for the public name.
			tr.TLSClientConfig.InsecureSkipVerify = insecure
			client := &http.Client{Transport: tr, Timeout: timeout}
			resp, err := client.Get(url)
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "unhealthy: %v\n", err)
				return exitError{1}
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			if resp.StatusCode != http.StatusOK {
				fmt.Fprintf(cmd.ErrOrStderr(), "unhealthy: %s %s\n", resp.Status, strings.TrimSpace(string(body)))
				return exitError{1}
			}
			fmt.Fprintln(cmd.OutOrStdout(), strings.TrimSpace(string(body)))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "url", "", "the /healthz URL (default $"+HealthcheckURLEnv+" or "+defaultHealthcheckURL+")")
	f.DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	f.StringVar(&caFile, "ca-file", "", "PEM CA certificates to verify an https URL")
	f.BoolVar(&insecure, "insecure-skip-verify", false, "accept any TLS certificate (the probe sends nothing secret)")
	return cmd
}
