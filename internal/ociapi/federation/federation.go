// Package federation serves instance principals against Coffer, as OCI's
// auth service and platform do for compute instances
// (docs/oci-behaviours.md#session-tokens-and-workload-identity):
//
//   - POST /v1/x509, the federation endpoint the SDK's instance principal
//     provider calls (OCI_SDK_AUTH_CLIENT_REGION_URL = Coffer's URL). The
//     request is signed with the instance's leaf key and carries the leaf,
//     the intermediate and a fresh session public key; the answer is
//     {"token": "<JWT>"}, which the SDK then uses as `ST$<token>` with the
//     session key. authn.Federation does the checking.
//   - POST /20160918/coffer/instanceCertificates
//     (CreateInstanceCertificate), Coffer's administrator API that issues a
//     leaf certificate from Coffer's instance CA for an instance's public
//     key (`coffer iam instance-certificate`). OCI has no such API: its
//     platform puts certificates in the instance metadata service. It
//     needs what creating a dynamic group needs (DYNAMIC_GROUP_CREATE in
//     the tenancy), since a certificate lets its holder act as any
//     instance.
//   - MetadataHandler, the local stand-in for the instance metadata service
//     (OCI_METADATA_BASE_URL) that serves those files to the SDK
//     (`coffer iam instance-metadata`).
//
// Policies reach instances through dynamic groups whose matching rules test
// instance.id and instance.compartment.id.
package federation

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/coffer-vault/coffer/internal/authn"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/ociapi"
)

// Paths of the two routes on the main endpoint.
const (
	// FederationPath is where the SDK's x509 federation client posts
	// (its auth client's base path, v1/x509).
	FederationPath = "/v1/x509"
	// CertificatesPath is CreateInstanceCertificate.
	CertificatesPath = "/20160918/coffer/instanceCertificates"
)

// OperationFederate names federation calls in logs and metrics. It is not
// authorized: the signature with a certificate from Coffer's CA is the
// credential.
const OperationFederate = "X509Federation"

// Handlers serves the routes.
type Handlers struct {
	CA         *authn.InstanceCA
	Federation *authn.Federation
	// TenancyID returns the tenancy's OCID.
	TenancyID func(ctx context.Context) (string, error)
	// CompartmentExists reports whether a compartment (or the tenancy)
	// exists and is active.
	CompartmentExists func(ctx context.Context, id string) (bool, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// FederationRoutes is POST /v1/x509. Register it on an ociapi.API whose
// Verifier is h.Federation: the federation request is not signed like
// other requests (no host, a certificate keyId).
func (h *Handlers) FederationRoutes() []ociapi.Route {
	return []ociapi.Route{{Pattern: "POST " + FederationPath, Operation: OperationFederate, Handler: h.federate}}
}

// AdminRoutes is CreateInstanceCertificate, on the ordinary API.
func (h *Handlers) AdminRoutes() []ociapi.Route {
	return []ociapi.Route{{Pattern: "POST " + CertificatesPath, Operation: iam.OperationCreateInstanceCertificate, Handler: h.create}}
}

// TokenResponse is the federation answer, as the SDK reads it.
type TokenResponse struct {
	Token string `json:"token"`
}

func (h *Handlers) federate(c *ociapi.Call) error {
	tok, _, err := h.Federation.IssueToken(c.Principal, c.Body)
	if err != nil {
		// Verify accepted this very body; what is left is a leaf about
		// to expire.
		return fmt.Errorf("%w: %v", authn.ErrNotAuthenticated, err)
	}
	return c.ReplyStatus(200, "", TokenResponse{Token: tok})
}

// CreateDetails is the body of CreateInstanceCertificate.
type CreateDetails struct {
	// InstanceID is the instance's OCID (instance.id in matching rules).
	InstanceID string `json:"instanceId"`
	// CompartmentID is its compartment (instance.compartment.id).
	CompartmentID string `json:"compartmentId"`
	// PublicKey is the instance's RSA public key, PEM (PUBLIC KEY), at
	// least 2048 bits. Its private key stays with the caller.
	PublicKey string `json:"publicKey"`
	// ValidityInSeconds is the certificate's lifetime; 0 means 30 days,
	// at most a year.
	ValidityInSeconds int64 `json:"validityInSeconds,omitempty"`
}

// Certificate is the answer of CreateInstanceCertificate: what the
// metadata service serves as cert.pem and intermediate.pem, and the CA
// root for reference.
type Certificate struct {
	Certificate             string    `json:"certificate"`
	IntermediateCertificate string    `json:"intermediateCertificate"`
	CACertificate           string    `json:"caCertificate"`
	Fingerprint             string    `json:"fingerprint"`
	TimeExpires             time.Time `json:"timeExpires"`
}

func (h *Handlers) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handlers) create(c *ociapi.Call) error {
	var d CreateDetails
	tenancy, err := ociapi.DecodeInTenancy(c, &d, h.TenancyID)
	if err != nil {
		return err
	}
	if d.InstanceID == "" || d.CompartmentID == "" || d.PublicKey == "" {
		return errs.E(errs.Missing, "instanceId, compartmentId and publicKey are required")
	}
	pub, validity, err := ociapi.WorkloadBinding{CompartmentID: d.CompartmentID, PublicKey: d.PublicKey,
		LifetimeField: "validityInSeconds", Lifetime: d.ValidityInSeconds, MaxLifetime: authn.MaxInstanceCertTTL,
	}.Check(c.Context(), h.CompartmentExists)
	if err != nil {
		return err
	}
	leaf, err := h.CA.Issue(authn.InstanceClaims{InstanceID: d.InstanceID, CompartmentID: d.CompartmentID, TenancyID: tenancy},
		pub, h.now(), validity)
	if err != nil {
		return errs.E(errs.Invalid, "%v", err)
	}
	return c.ReplyStatus(200, "", Certificate{
		Certificate:             PEM(leaf),
		IntermediateCertificate: PEM(h.CA.Intermediate()),
		CACertificate:           PEM(h.CA.Root()),
		Fingerprint:             authn.CertificateFingerprint(leaf),
		TimeExpires:             leaf.NotAfter.UTC(),
	})
}

// PEM encodes a certificate.
func PEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}
