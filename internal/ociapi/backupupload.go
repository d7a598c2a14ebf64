package ociapi

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/errs"
)

// BackupUploader puts backup files where OCI's BackupVault and BackupKey
// would: to a pre-authenticated request URI. Coffer has no Object Storage,
// so it writes only to URIs under a prefix the operator allowed
// (--backup-uri-prefix); anything else would let a caller make the server
// send requests wherever it likes (SSRF). It never follows a redirect,
// gives up after Timeout, and sends at most the backup's size.
type BackupUploader struct {
	// Prefixes are the allowed URI prefixes, as CheckBackupURIPrefix
	// accepted them.
	Prefixes []string
	// Client defaults to one with Timeout and no redirects.
	Client  *http.Client
	Timeout time.Duration // 0 means one minute
}

// BackupURIPrefixFlag is the server flag that allows upload prefixes; the
// refusal names it.
const BackupURIPrefixFlag = "--backup-uri-prefix"

// CheckBackupURIPrefix checks an allowed prefix at start: an absolute
// http(s) URL with a host, no user info, query or fragment, and a path
// that ends in "/" (so that https://h/a does not allow https://h/ab).
func CheckBackupURIPrefix(p string) error {
	u, err := url.Parse(p)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%s %q: want an absolute http(s) URL with a host and no user info, query or fragment", BackupURIPrefixFlag, p)
	}
	if !strings.HasSuffix(u.EscapedPath(), "/") {
		return fmt.Errorf("%s %q: the path must end in /", BackupURIPrefixFlag, p)
	}
	return nil
}

// allowed reports whether uri is under one of the prefixes: same scheme
// and host (port included), a path under the prefix's, no ".." segment
// and no user info.
func (u *BackupUploader) allowed(uri string) (*url.URL, bool) {
	t, err := url.Parse(uri)
	if err != nil || t.User != nil || t.Fragment != "" || t.Host == "" {
		return nil, false
	}
	path := t.EscapedPath()
	if dotDot(path) || dotDot(t.Path) || strings.Contains(strings.ToLower(path), "%2e") {
		return nil, false
	}
	for _, p := range u.Prefixes {
		pu, err := url.Parse(p)
		if err != nil {
			continue
		}
		if strings.EqualFold(pu.Scheme, t.Scheme) && strings.EqualFold(pu.Host, t.Host) && strings.HasPrefix(path, pu.EscapedPath()) {
			return t, true
		}
	}
	return nil, false
}

// Check refuses a URI Upload would refuse, before any work is done.
func (u *BackupUploader) Check(uri string) error {
	_, err := u.check(uri)
	return err
}

func (u *BackupUploader) check(uri string) (*url.URL, error) {
	if u == nil || len(u.Prefixes) == 0 {
		return nil, errs.E(errs.Invalid, "backupLocation PRE_AUTHENTICATED_REQUEST_URI: this server writes backups to no URI; the operator allows URI prefixes with the server flag %s (or use the CLI's --file to download the backup)", BackupURIPrefixFlag)
	}
	target, ok := u.allowed(uri)
	if !ok {
		return nil, errs.E(errs.Invalid, "backupLocation.uri is not under a prefix this server allows (server flag %s)", BackupURIPrefixFlag)
	}
	return target, nil
}

// CheckContentMD5 checks the content-md5 header of a request with a binary
// body, when there is one, and returns the body's MD5 for
// opc-content-md5 (both base64, as OCI spells them).
func CheckContentMD5(c *Call) (string, error) {
	sum := md5.Sum(c.Body)
	got := base64.StdEncoding.EncodeToString(sum[:])
	if want := c.R.Header.Get("content-md5"); want != "" && want != got {
		return "", errs.E(errs.Invalid, "the content-md5 header does not match the body: the file was changed or cut short on the way")
	}
	return got, nil
}

// dotDot reports whether a path has a ".." segment.
func dotDot(path string) bool {
	for _, seg := range strings.Split(path, "/") {
		if seg == ".." {
			return true
		}
	}
	return false
}

// Upload PUTs blob to uri. Every refusal and failure is a 400 that says
// why, without echoing the URI (a pre-authenticated request URI is a
// credential).
func (u *BackupUploader) Upload(ctx context.Context, uri string, blob []byte) error {
	target, err := u.check(uri)
	if err != nil {
		return err
	}
	timeout := u.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	client := u.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target.String(), bytes.NewReader(blob))
	if err != nil {
		return errs.E(errs.Invalid, "backupLocation.uri cannot be used")
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.ContentLength = int64(len(blob))
	resp, err := client.Do(req)
	if err != nil {
		// A *url.Error names the URI, a credential: keep only its cause
		// for the log.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return errs.Wrap(errs.Invalid, err, "the backup could not be written to backupLocation.uri: the request failed")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errs.E(errs.Invalid, "the backup could not be written to backupLocation.uri: it answered %d", resp.StatusCode)
	}
	return nil
}

// BackupDetails is the body of BackupVault and BackupKey (OCI's
// BackupVaultDetails, BackupKeyDetails) and of the restores from Object
// Storage, decoded without the SDK's polymorphic unmarshalling so that a
// bad destination is a clear 400.
type BackupDetails struct {
	BackupLocation *BackupLocation `json:"backupLocation"`
	IsIncludeKeys  *bool           `json:"isIncludeKeys"`
}

// BackupLocation is OCI's BackupLocation: BUCKET or
// PRE_AUTHENTICATED_REQUEST_URI.
type BackupLocation struct {
	Destination string  `json:"destination"`
	URI         *string `json:"uri"`
	Namespace   *string `json:"namespace"`
	BucketName  *string `json:"bucketName"`
	ObjectName  *string `json:"objectName"`
}

// Backup destinations.
const (
	DestinationBucket = "BUCKET"
	DestinationURI    = "PRE_AUTHENTICATED_REQUEST_URI"
)

// URI returns the pre-authenticated request URI a backup goes to. An
// absent location, a BUCKET (Coffer has no Object Storage) or an unknown
// destination is a 400 that says what to do instead.
func (d BackupDetails) URI() (string, error) {
	l := d.BackupLocation
	if l == nil {
		return "", errs.E(errs.Missing, "backupLocation is required: Coffer writes backups to a PRE_AUTHENTICATED_REQUEST_URI under a prefix the operator allows (%s); the CLI's --file downloads one instead", BackupURIPrefixFlag)
	}
	switch l.Destination {
	case DestinationBucket:
		return "", errs.E(errs.Invalid, "backupLocation BUCKET is not available in Coffer, which has no Object Storage: use PRE_AUTHENTICATED_REQUEST_URI, or the CLI's --file to download the backup")
	case DestinationURI:
		if l.URI == nil || *l.URI == "" {
			return "", errs.E(errs.Missing, "backupLocation.uri is required")
		}
		return *l.URI, nil
	}
	return "", errs.E(errs.Invalid, "backupLocation.destination %q is not valid: allowed values are BUCKET, PRE_AUTHENTICATED_REQUEST_URI", l.Destination)
}
