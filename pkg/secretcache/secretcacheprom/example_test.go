package secretcacheprom_test

import (
	"fmt"

	"github.com/coffer-vault/coffer/pkg/secretcache"
	"github.com/coffer-vault/coffer/pkg/secretcache/secretcacheprom"
	"github.com/prometheus/client_golang/prometheus"
)

func ExampleNewCollector() {
	var cache *secretcache.Cache = secretcache.New(nil, secretcache.Options{}) // pass a secrets.SecretsClient
	defer cache.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(secretcacheprom.NewCollector(cache, "myapp", nil))
	families, _ := reg.Gather()
	fmt.Println(len(families), families[0].GetName())
	// Output: 12 myapp_secretcache_backend_calls_total
}
