package federation

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Files of an instance identity directory, as `coffer iam
// instance-certificate` writes them and MetadataHandler serves them.
const (
	CertFile         = "cert.pem"
	KeyFile          = "key.pem"
	IntermediateFile = "intermediate.pem"
	// RegionFile holds the region name (no newline); a region given to
	// MetadataHandler wins.
	RegionFile = "region"
)

// MetadataBasePath is the path prefix of OCI's instance metadata service
// v2: OCI_METADATA_BASE_URL is http://<listen address> + MetadataBasePath.
const MetadataBasePath = "/opc/v2"

// MetadataHandler is the local stand-in for OCI's instance metadata
// service, for instance principals outside OCI: it serves exactly what the
// SDK's instance principal provider reads
// (docs/oci-behaviours.md#session-tokens-and-workload-identity) from the files in
// dir:
//
//	GET /opc/v2/instance/region           region (no trailing newline)
//	GET /opc/v2/identity/cert.pem         leaf certificate
//	GET /opc/v2/identity/key.pem          leaf private key
//	GET /opc/v2/identity/intermediate.pem intermediate certificate
//
// Each request needs the header "Authorization: Bearer Oracle", as on OCI
// (it keeps browsers and naive proxies out, nothing more). Files are read on
// every request, so a re-issued certificate is picked up when the SDK next
// renews its token. It serves the instance's private key to whoever can
// connect: listen on loopback only, as OCI's is link-local.
func MetadataHandler(dir, region string) http.Handler {
	files := map[string]string{
		MetadataBasePath + "/identity/cert.pem":         CertFile,
		MetadataBasePath + "/identity/key.pem":          KeyFile,
		MetadataBasePath + "/identity/intermediate.pem": IntermediateFile,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Header.Get("Authorization") != "Bearer Oracle" {
			http.Error(w, "missing header Authorization: Bearer Oracle", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet {
			http.Error(w, "only GET", http.StatusMethodNotAllowed)
			return
		}
		var body []byte
		switch name, ok := files[r.URL.Path]; {
		case ok:
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				metadataError(w, err)
				return
			}
			body = b
		case r.URL.Path == MetadataBasePath+"/instance/region":
			reg := region
			if reg == "" {
				b, err := os.ReadFile(filepath.Join(dir, RegionFile))
				if err != nil {
					metadataError(w, err)
					return
				}
				reg = string(b)
			}
			// The SDK passes the body to its region lookup as it is.
			body = []byte(strings.TrimSpace(reg))
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
		clear(body)
	})
}

func metadataError(w http.ResponseWriter, err error) {
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, "not issued yet", http.StatusNotFound)
		return
	}
	http.Error(w, "cannot read the instance identity", http.StatusInternalServerError)
}
