package replication

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/ocid"
)

func TestCheckAcks(t *testing.T) {
	good := kms.VaultAck{VaultID: ocid.New(ocid.Vault, "eu-a-1"), ReplicationID: ocid.New(ocid.VaultReplication, "eu-a-1"),
		ManagementEndpoint: "http://127.0.1.4:8200", CryptoEndpoint: "https://x-crypto.kms.example.com"}
	if err := checkAcks([]kms.VaultAck{good, {VaultID: good.VaultID, ReplicationID: good.ReplicationID}}); err != nil {
		t.Fatal(err)
	}
	many := make([]kms.VaultAck, MaxVaultAcks+1)
	for i := range many {
		many[i] = good
	}
	for name, tc := range map[string]struct {
		acks []kms.VaultAck
		msg  string
	}{
		"too many":          {many, "more than"},
		"not a vault":       {[]kms.VaultAck{{VaultID: ocid.New(ocid.Key, "r"), ReplicationID: good.ReplicationID}}, "vaultId"},
		"not a replication": {[]kms.VaultAck{{VaultID: good.VaultID, ReplicationID: ocid.New(ocid.WorkRequest, "r")}}, "replicationId"},
		"endpoint scheme":   {[]kms.VaultAck{{VaultID: good.VaultID, ReplicationID: good.ReplicationID, CryptoEndpoint: "file:///etc/passwd"}}, "endpoints"},
		"endpoint length":   {[]kms.VaultAck{{VaultID: good.VaultID, ReplicationID: good.ReplicationID, ManagementEndpoint: "http://" + strings.Repeat("a", 300)}}, "endpoints"},
	} {
		err := checkAcks(tc.acks)
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want 400 with %q", name, err, tc.msg)
		}
	}
}

// TestDecodePullRequestAcks: the strict decoder checks acknowledgements
// (FuzzDecodePullRequest covers the rest with this seed).
func TestDecodePullRequestAcks(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	ok := `{"recipientKey":"` + key + `","vaults":[{"vaultId":"` + ocid.New(ocid.Vault, "r") + `","replicationId":"` + ocid.New(ocid.VaultReplication, "r") + `","managementEndpoint":"http://127.0.1.4:8200"}]}`
	if _, err := DecodePullRequest([]byte(ok)); err != nil {
		t.Fatal(err)
	}
	bad := `{"recipientKey":"` + key + `","vaults":[{"vaultId":"x","replicationId":"y"}]}`
	if _, err := DecodePullRequest([]byte(bad)); !errs.Is(err, errs.Invalid) {
		t.Fatalf("bad acks: %v", err)
	}
}
