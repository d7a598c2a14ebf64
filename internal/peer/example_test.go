package peer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/coffer-vault/coffer/internal/peer"
)

// A replica (eu-frankfurt-1) pulls a secret from its source
// (us-ashburn-1): the request is signed by the replica, the answer by the
// source, and the content is sealed to a key the replica made for this one
// exchange.
func Example() {
	dir, _ := os.MkdirTemp("", "peer-example")
	defer os.RemoveAll(dir)
	sourceID, _ := peer.CreateIdentity(filepath.Join(dir, "source.key"))
	replicaID, _ := peer.CreateIdentity(filepath.Join(dir, "replica.key"))

	// The source knows the replica's key (--peer-key eu-frankfurt-1=...).
	sourcePeers, _ := peer.NewPeers("us-ashburn-1", []peer.Peer{{Region: "eu-frankfurt-1", Key: replicaID.PublicKey()}})
	verifier := peer.NewVerifier("us-ashburn-1", sourcePeers, time.Now)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		req, err := verifier.VerifyRequest(r, body)
		if err != nil {
			http.Error(w, "not authorized", http.StatusUnauthorized) // unsigned: the replica refuses it
			return
		}
		var in struct{ Key []byte }
		json.Unmarshal(body, &in)
		sealed, _ := peer.Seal(in.Key, peer.ExchangeContext("us-ashburn-1", req.From, req.Nonce), []byte("s3cret"))
		out, _ := json.Marshal(map[string]any{"sealed": sealed})
		sourceID.SignResponse(w.Header(), "us-ashburn-1", req.From, req.Nonce, http.StatusOK, out)
		w.Write(out)
	}))
	defer srv.Close()

	// The replica knows the source's URL and key (--peer us-ashburn-1=URL).
	u, _ := url.Parse(srv.URL)
	client := peer.NewClient(replicaID, "eu-frankfurt-1", peer.Peer{Region: "us-ashburn-1", URL: u, Key: sourceID.PublicKey()}, nil)
	oneTime, _ := peer.NewEphemeralKey()
	defer oneTime.Destroy()
	body, _ := json.Marshal(map[string][]byte{"key": oneTime.Public()})
	resp, err := client.Exchange(context.Background(), "/coffer/v1/peer/secret", body)
	if err != nil {
		fmt.Println(err)
		return
	}
	var ans struct{ Sealed []byte }
	json.Unmarshal(resp.Body, &ans)
	secret, err := oneTime.Open(ans.Sealed, peer.ExchangeContext("us-ashburn-1", "eu-frankfurt-1", resp.Nonce))
	fmt.Println(resp.Status, string(secret), err)
	// Output: 200 s3cret <nil>
}
