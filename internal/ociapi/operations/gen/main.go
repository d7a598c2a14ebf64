// Command gen writes internal/ociapi/operations/operations_gen.go: every
// operation of the OCI API families Coffer speaks (Key Management, Vault,
// Secrets, Identity), read from the source of the pinned OCI Go SDK. Each
// operation function of an SDK client builds its request with
// request.HTTPRequest(http.MethodX, "/path/{param}", ...) (or
// common.MakeDefaultHTTPRequest) and sends it with
// CallWithServiceAndOperationName(ctx, &req, "service", "OperationName");
// the client's constructor sets its BasePath (the API version of Vault,
// Secrets and Identity; Key Management writes it into each path).
//
// Run it with go generate in internal/ociapi/operations; the package's
// tests regenerate the table and fail when it differs from the file, so
// the table cannot drift from the SDK in go.mod.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// sdkModule is the module the table is read from.
const sdkModule = "github.com/oracle/oci-go-sdk/v65"

// packages are the SDK packages of the API families Coffer speaks.
var packages = []string{"keymanagement", "vault", "secrets", "identity"}

// endpoints says where Coffer serves each client's operations: key
// management and crypto operations on each vault's own endpoints, the rest
// on the main (regional) endpoint.
var endpoints = map[string]string{
	"KmsManagement": "Management",
	"KmsCrypto":     "Crypto",
}

func main() {
	out := flag.String("o", "operations_gen.go", "output file")
	flag.Parse()
	src, err := Generate()
	if err == nil {
		err = os.WriteFile(*out, src, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// op is one operation found in the SDK.
type op struct {
	client, name, method, path, version string
}

// Generate reads the SDK in go.mod and returns the formatted Go file.
func Generate() ([]byte, error) {
	dir, version, err := sdkDir()
	if err != nil {
		return nil, err
	}
	var ops []op
	for _, pkg := range packages {
		files, err := globClients(dir, pkg)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			found, err := parseClient(f)
			if err != nil {
				return nil, err
			}
			ops = append(ops, found...)
		}
	}
	return render(ops, version)
}

// globClients lists the client files of one SDK package.
func globClients(dir, pkg string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, pkg, pkg+"_*client.go"))
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("no client files in %s/%s", dir, pkg)
	}
	return files, err
}

// sdkDir asks the go command where the SDK's module is.
func sdkDir() (dir, version string, err error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", sdkModule)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("go list -m %s: %w: %s", sdkModule, err, stderr.String())
	}
	dir, version, ok := strings.Cut(strings.TrimSpace(string(out)), " ")
	if !ok || dir == "" {
		return "", "", fmt.Errorf("go list -m %s: no module directory (run go mod download)", sdkModule)
	}
	return dir, version, nil
}

// parseClient returns the operations of one client file.
func parseClient(path string) ([]op, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	basePath := map[string]string{} // client type -> BasePath
	var ops []op
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		// BasePath is set in the constructor, a plain function.
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			as, ok := n.(*ast.AssignStmt)
			if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
				return true
			}
			sel, ok := as.Lhs[0].(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "BasePath" {
				return true
			}
			if s, ok := stringLit(as.Rhs[0]); ok && fn.Type.Results != nil && len(fn.Type.Results.List) > 0 {
				if id, ok := fn.Type.Results.List[0].Type.(*ast.Ident); ok {
					basePath[id.Name] = s
				}
			}
			return true
		})
		if fn.Recv == nil || len(fn.Recv.List) != 1 {
			continue
		}
		recv, ok := fn.Recv.List[0].Type.(*ast.Ident)
		if !ok || !strings.HasSuffix(recv.Name, "Client") {
			continue
		}
		o, found, err := operationOf(fn)
		if err != nil {
			return nil, fmt.Errorf("%s: %s.%s: %w", path, recv.Name, fn.Name.Name, err)
		}
		if found {
			o.client = recv.Name
			ops = append(ops, o)
		}
	}
	for i := range ops {
		bp, ok := basePath[ops[i].client]
		if !ok {
			return nil, fmt.Errorf("%s: no BasePath for %s", path, ops[i].client)
		}
		if bp != "" {
			ops[i].path = "/" + strings.Trim(bp, "/") + ops[i].path
		}
		ops[i].client = strings.TrimSuffix(ops[i].client, "Client")
		ops[i].version, _, _ = strings.Cut(strings.TrimPrefix(ops[i].path, "/"), "/")
	}
	return ops, nil
}

// operationOf finds the request built and the operation named in the body
// of one client method; found is false for methods that send nothing.
func operationOf(fn *ast.FuncDecl) (o op, found bool, err error) {
	var requests, names int
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		switch sel.Sel.Name {
		case "HTTPRequest", "MakeDefaultHTTPRequest", "MakeDefaultHTTPRequestWithTaggedStruct":
			if len(call.Args) < 2 {
				return true
			}
			m, ok1 := httpMethod(call.Args[0])
			p, ok2 := stringLit(call.Args[1])
			if ok1 && ok2 {
				o.method, o.path = m, p
				requests++
			}
		case "CallWithServiceAndOperationName":
			if len(call.Args) == 4 {
				if s, ok := stringLit(call.Args[3]); ok {
					o.name = s
					names++
				}
			}
		}
		return true
	})
	switch {
	case requests == 0 && names == 0:
		return op{}, false, nil
	case requests != 1 || names != 1:
		return op{}, false, fmt.Errorf("%d requests and %d operation names; want one of each", requests, names)
	case !strings.HasPrefix(o.path, "/"):
		return op{}, false, fmt.Errorf("path %q does not start with /", o.path)
	}
	return o, true, nil
}

func httpMethod(e ast.Expr) (string, bool) {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok || pkg.Name != "http" || !strings.HasPrefix(sel.Sel.Name, "Method") {
		return "", false
	}
	return strings.ToUpper(strings.TrimPrefix(sel.Sel.Name, "Method")), true
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

func render(ops []op, version string) ([]byte, error) {
	if len(ops) == 0 {
		return nil, errors.New("no operations found")
	}
	sort.Slice(ops, func(i, j int) bool {
		a, b := ops[i], ops[j]
		if a.path != b.path {
			return a.path < b.path
		}
		if a.method != b.method {
			return a.method < b.method
		}
		return a.client < b.client
	})
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by go run ./gen; DO NOT EDIT.\n\n")
	fmt.Fprintf(&b, "package operations\n\n")
	fmt.Fprintf(&b, "// SDKVersion is the version of %s the table was read from.\n", sdkModule)
	fmt.Fprintf(&b, "const SDKVersion = %q\n\n", version)
	fmt.Fprintf(&b, "var table = [...]Operation{\n")
	for _, o := range ops {
		ep := endpoints[o.client]
		if ep == "" {
			ep = "Main"
		}
		fmt.Fprintf(&b, "\t{Name: %q, Client: %q, Method: %q, Path: %q, Version: %q, Endpoint: %s},\n",
			o.name, o.client, o.method, o.path, o.version, ep)
	}
	fmt.Fprintf(&b, "}\n")
	return format.Source(b.Bytes())
}
