package cli

import (
	"encoding/json"
	"strings"

	"github.com/jmespath/go-jmespath"
	"github.com/rogpeppe/go-internal/testscript"
)

// scriptCmds are the custom script commands:
//
//	setjson VAR FILE QUERY   set $VAR to the string a JMESPath query selects from a JSON file
//	jsoneq FILE QUERY VALUE  the query's result, as compact JSON (strings bare), equals VALUE
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"setjson": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 3 {
			ts.Fatalf("usage: setjson VAR FILE QUERY")
		}
		ts.Setenv(args[0], queryFile(ts, args[1], args[2]))
	},
	"jsoneq": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 3 {
			ts.Fatalf("usage: jsoneq FILE QUERY VALUE")
		}
		got := queryFile(ts, args[0], args[1])
		if (got == args[2]) == neg {
			ts.Fatalf("%s on %s = %s; want %s%s", args[1], args[0], got, map[bool]string{true: "not ", false: ""}[neg], args[2])
		}
	},
}

func queryFile(ts *testscript.TestScript, file, query string) string {
	var doc any
	if err := json.Unmarshal([]byte(ts.ReadFile(file)), &doc); err != nil {
		ts.Fatalf("%s is not JSON: %v", file, err)
	}
	v, err := jmespath.Search(query, doc)
	if err != nil {
		ts.Fatalf("query %q: %v", query, err)
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return strings.TrimSpace(string(b))
}
