package secretcache_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"log"
	"time"

	"github.com/coffer-vault/coffer/pkg/changefeed"
	"github.com/coffer-vault/coffer/pkg/secretcache"
	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/secrets"
)

// staticBackend stands in for secrets.SecretsClient, which is what a real
// program passes to secretcache.New:
//
//	provider := common.DefaultConfigProvider()
//	client, err := secrets.NewSecretsClientWithConfigurationProvider(provider)
//	cache := secretcache.New(client, secretcache.Options{})
type staticBackend struct{ calls int }

func (b *staticBackend) GetSecretBundle(ctx context.Context, req secrets.GetSecretBundleRequest) (secrets.GetSecretBundleResponse, error) {
	b.calls++
	content := base64.StdEncoding.EncodeToString([]byte("hunter2"))
	version := int64(4)
	return secrets.GetSecretBundleResponse{SecretBundle: secrets.SecretBundle{
		SecretId:            req.SecretId,
		VersionNumber:       &version,
		SecretBundleContent: secrets.Base64SecretBundleContentDetails{Content: &content},
		Stages:              []secrets.SecretBundleStagesEnum{secrets.SecretBundleStagesCurrent},
	}}, nil
}

func (b *staticBackend) GetSecretBundleByName(ctx context.Context, req secrets.GetSecretBundleByNameRequest) (secrets.GetSecretBundleByNameResponse, error) {
	return secrets.GetSecretBundleByNameResponse{}, fmt.Errorf("not used in this example")
}

func Example() {
	backend := &staticBackend{}
	cache := secretcache.New(backend, secretcache.Options{TTL: 10 * time.Minute})
	defer cache.Close()

	// The OCID comes from configuration in a real program.
	key := secretcache.ByID("ocid1.vaultsecret.oc1..example")
	for range 3 {
		s, err := cache.Get(context.Background(), key)
		if err != nil {
			log.Fatal(err)
		}
		// s.Bytes() is shared with the cache: read it, never modify it.
		_ = s.Bytes()
		fmt.Println(s) // content is never printed
	}
	fmt.Println("backend calls:", backend.calls)
	st := cache.Stats()
	fmt.Println("hits:", st.Hits, "misses:", st.Misses)
	// Output:
	// secretcache.Secret{SecretID:"ocid1.vaultsecret.oc1..example" VersionNumber:4 content:REDACTED}
	// secretcache.Secret{SecretID:"ocid1.vaultsecret.oc1..example" VersionNumber:4 content:REDACTED}
	// secretcache.Secret{SecretID:"ocid1.vaultsecret.oc1..example" VersionNumber:4 content:REDACTED}
	// backend calls: 1
	// hits: 2 misses: 1
}

// An application whose database refuses the cached password after a
// rotation asks the cache for the new version once.
func ExampleCache_Rejected() {
	cache := secretcache.New(&staticBackend{}, secretcache.Options{})
	defer cache.Close()
	key := secretcache.ByID("ocid1.vaultsecret.oc1..example")
	if _, err := cache.Get(context.Background(), key); err != nil {
		log.Fatal(err)
	}
	// ... the database answered 401 with that password ...
	s, changed, err := cache.Rejected(context.Background(), key)
	fmt.Println(s.VersionNumber, changed, err)
	_, _, err = cache.Rejected(context.Background(), key)
	fmt.Println(err)
	// Output:
	// 4 false <nil>
	// secretcache: rejection already handled recently
}

// Following Coffer's change feed: the feed client signs with the Secrets
// client's own signer and host. Against real OCI the follower finds no
// feed (404), stops, and the cache keeps its TTLs.
func ExampleOptions_followChanges() {
	provider := common.DefaultConfigProvider()
	client, err := secrets.NewSecretsClientWithConfigurationProvider(provider)
	if err != nil {
		log.Fatal(err)
	}
	client.Host = "https://coffer.example:8443"
	cache := secretcache.New(client, secretcache.Options{
		FollowChanges: changefeed.NewClient(client.BaseClient),
	})
	defer cache.Close()
}
