package cli

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-vault/coffer/internal/ociapi/federation"
)

// defaultMetadataListen is where `coffer iam instance-metadata` listens by
// default: loopback, next to the server's default port.
const defaultMetadataListen = "127.0.0.1:8421"

// addInstancePrincipal adds `instance-certificate` and `instance-metadata`
// to the iam group of root.
func addInstancePrincipal(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() == "iam" {
			c.AddCommand(newInstanceCertificateCommand(), newInstanceMetadataCommand())
			return
		}
	}
}

func newInstanceCertificateCommand() *cobra.Command {
	var d federation.CreateDetails
	var outDir string
	var validity time.Duration
	cmd := &cobra.Command{
		Use:   "instance-certificate --instance-id OCID --compartment-id OCID --out DIR",
		Short: "Issue an instance principal certificate from Coffer's instance CA",
		Long: `Issues a leaf certificate for a machine so that programs on it can call Coffer
with the SDK's instance principal provider, as compute instances do on OCI.

A fresh RSA-2048 key is generated here and only its public key is sent; the
server signs a certificate naming the instance, its compartment and the
tenancy (opc-instance, opc-compartment, opc-tenant). Written to --out (0600,
atomically): cert.pem, key.pem, intermediate.pem and region, the files OCI's
instance metadata service serves. Serve them with
  coffer iam instance-metadata --dir DIR
and point the SDK at that stand-in and at Coffer's federation endpoint (the
command prints the export lines). The SDK then exchanges the certificate
for short-lived session tokens at POST /v1/x509.

Policies reach instances through dynamic groups, whose matching rules see
instance.id and instance.compartment.id, e.g.
  ANY {instance.compartment.id = '<compartment ocid>'}
  allow dynamic-group apps to read secret-family in compartment apps

Issuing needs manage dynamic-groups in the tenancy (DYNAMIC_GROUP_CREATE):
a certificate lets its holder act as that instance until it expires, and
there is no revocation; keep --validity short, or delete the instance's
compartment to stop it federating. Re-run to renew: the metadata stand-in
reads the files on every request.`,
		Example: `  coffer iam instance-certificate --instance-id ocid1.instance.oc1.local.web1 \
      --compartment-id $COMPARTMENT --out /etc/coffer/instance --validity 168h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g := globalsFrom(cmd)
			if err := issueInstanceCertificate(cmd, g, d, validity, outDir); err != nil {
				return exitError{g.reportError(cmd.ErrOrStderr(), err, hints{})}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&d.InstanceID, "instance-id", "", "the instance's OCID (instance.id in matching rules)")
	f.StringVar(&d.CompartmentID, "compartment-id", "", "the instance's compartment (instance.compartment.id)")
	f.StringVar(&outDir, "out", "", "the directory for cert.pem, key.pem, intermediate.pem and region (must exist)")
	f.DurationVar(&validity, "validity", 30*24*time.Hour, "the certificate's lifetime (10m to 8760h)")
	return cmd
}

func issueInstanceCertificate(cmd *cobra.Command, g *globals, d federation.CreateDetails, validity time.Duration, outDir string) error {
	if d.InstanceID == "" || d.CompartmentID == "" || outDir == "" {
		return usageErrorf("--instance-id, --compartment-id and --out are required")
	}
	if err := checkOutputDir("--out", outDir); err != nil {
		return err
	}
	if validity <= 0 {
		return usageErrorf("--validity must be positive")
	}
	c, err := newAdminClient(g, "instance certificates are Coffer's API")
	if err != nil {
		return err
	}
	endpoint := c.endpoint
	region, err := c.provider.Region()
	if err != nil {
		return &configError{fmt.Errorf("region: %w", err)}
	}
	key, pub, err := newWorkloadKey("instance key")
	if err != nil {
		return err
	}
	d.PublicKey = pub
	d.ValidityInSeconds = int64(validity / time.Second)
	var cert federation.Certificate
	if err := c.post(cmd.Context(), federation.CertificatesPath, "issue instance certificate", d, &cert); err != nil {
		return err
	}
	if cert.Certificate == "" || cert.IntermediateCertificate == "" {
		return errors.New("issue instance certificate: the server's answer has no certificate")
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	defer clear(keyPEM)
	abs, err := filepath.Abs(outDir)
	if err != nil {
		return err
	}
	// The key first: a certificate without its key is useless, a key
	// without a certificate harmless.
	if _, err := writeFiles(abs,
		dirFile{federation.KeyFile, keyPEM},
		dirFile{federation.IntermediateFile, []byte(cert.IntermediateCertificate)},
		dirFile{federation.RegionFile, []byte(region)},
		dirFile{federation.CertFile, []byte(cert.Certificate)},
	); err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "# instance certificate for %s in %s, expires %s\n", d.InstanceID, d.CompartmentID, cert.TimeExpires.Format(time.RFC3339))
	fmt.Fprintf(w, "# fingerprint %s\n", cert.Fingerprint)
	fmt.Fprintf(w, "# serve it as the instance metadata service (keep it running, on this machine only):\n")
	fmt.Fprintf(w, "#   coffer iam instance-metadata --dir %s --listen %s\n", abs, defaultMetadataListen)
	fmt.Fprintf(w, "# then, for the SDK (auth.InstancePrincipalConfigurationProvider), coffer agent and coffer run --auth instance_principal:\n")
	fmt.Fprintf(w, "export OCI_METADATA_BASE_URL=http://%s%s\n", defaultMetadataListen, federation.MetadataBasePath)
	fmt.Fprintf(w, "export OCI_SDK_AUTH_CLIENT_REGION_URL=%s\n", endpoint)
	fmt.Fprintf(w, "export COFFER_ENDPOINT=%s\n", endpoint)
	if strings.HasPrefix(endpoint, "https://") {
		fmt.Fprintf(w, "# if Coffer's TLS certificate is not from a public CA, the federation client needs it too:\n")
		fmt.Fprintf(w, "#   export OCI_DEFAULT_CERTS_PATH=<CA bundle PEM> (it replaces the system roots for every SDK client)\n")
	}
	return nil
}

func newInstanceMetadataCommand() *cobra.Command {
	var dir, listen, region string
	cmd := &cobra.Command{
		Use:   "instance-metadata --dir DIR [--listen ADDR] [--region REGION]",
		Short: "Serve an instance certificate as OCI's instance metadata service does (local stand-in)",
		Long: `Serves the files written by 'coffer iam instance-certificate' the way OCI's
instance metadata service (v2) serves them to the SDK's instance principal
provider, so that instance principals work on machines outside OCI:

  GET /opc/v2/instance/region            the region (DIR/region, or --region)
  GET /opc/v2/identity/cert.pem          DIR/cert.pem
  GET /opc/v2/identity/key.pem           DIR/key.pem
  GET /opc/v2/identity/intermediate.pem  DIR/intermediate.pem

Requests must carry "Authorization: Bearer Oracle", as on OCI. Files are read
on every request, so renewing the certificate needs no restart.

It hands the instance's private key to anyone who can connect, so it
listens on loopback only (OCI's is link-local). Point the SDK at it with
  export OCI_METADATA_BASE_URL=http://ADDR/opc/v2
and at Coffer's federation endpoint with
  export OCI_SDK_AUTH_CLIENT_REGION_URL=<coffer URL>
Start it before the program: the SDK retries the region for about two
minutes when the metadata service does not answer. It runs until
interrupted.`,
		Example: `  coffer iam instance-metadata --dir /etc/coffer/instance --listen 127.0.0.1:8421`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g := globalsFrom(cmd)
			if err := serveInstanceMetadata(cmd, dir, listen, region); err != nil {
				return exitError{g.reportError(cmd.ErrOrStderr(), err, hints{})}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "the directory written by coffer iam instance-certificate")
	f.StringVar(&listen, "listen", defaultMetadataListen, "the loopback address to listen on")
	f.StringVar(&region, "region", "", "the region to report (default: the region file in --dir)")
	return cmd
}

func serveInstanceMetadata(cmd *cobra.Command, dir, listen, region string) error {
	if dir == "" {
		return usageErrorf("--dir is required")
	}
	for _, name := range []string{federation.CertFile, federation.KeyFile, federation.IntermediateFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return usageErrorf("--dir %s has no %s: run coffer iam instance-certificate --out %s first", dir, name, dir)
		}
	}
	if region == "" {
		if _, err := os.Stat(filepath.Join(dir, federation.RegionFile)); err != nil {
			return usageErrorf("--dir %s has no region file: pass --region", dir)
		}
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return usageErrorf("--listen %s: %v", listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usageErrorf("--listen %s is not a loopback address: the metadata stand-in serves the instance's private key", listen)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	srv := &http.Server{Handler: federation.MetadataHandler(dir, region), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(cmd.OutOrStdout(), "serving %s as the instance metadata service\nexport OCI_METADATA_BASE_URL=http://%s%s\n",
		dir, ln.Addr(), federation.MetadataBasePath)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("instance metadata: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
