package agent_test

import (
	"fmt"

	"github.com/coffer-vault/coffer/internal/agent"
)

// A configuration is parsed strictly and checked as a whole; a mistake
// names its field.
func ExampleCompile() {
	cfg, err := agent.Parse([]byte(`{
	  "endpoint": "https://coffer.example:8443",
	  "files": [{
	    "path": "/etc/app/db.env",
	    "mode": "0644x",
	    "secrets": {"db": {"id": "ocid1.vaultsecret.oc1..example"}},
	    "template": "DB_PASSWORD={{ secret \"db\" | jsonField \"password\" }}\n"
	  }]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = agent.Compile(cfg, "/etc/coffer")
	fmt.Println(err)
	// Output:
	// agent config: files[0].mode: want an octal mode such as "0640", got "0644x"
}

// Templates may only name the secrets their file declares, and may not
// loop.
func ExampleParseTemplate() {
	_, err := agent.ParseTemplate("app.env", `{{ secret "api" }}`, []string{"db"})
	fmt.Println(err)
	_, err = agent.ParseTemplate("app.env", `{{ range 3 }}x{{ end }}`, []string{"db"})
	fmt.Println(err)
	// Output:
	// app.env: line 1: secret "api" is not declared in this file's secrets (declared: "db")
	// app.env: line 1: range is not allowed in an agent template
}
