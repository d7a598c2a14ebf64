package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// maxFromJSON bounds a --from-json document.
const maxFromJSON = 1 << 20

// skipped are options that are not parameters of the command: they are
// neither read from --from-json nor listed by
// --generate-full-command-json-input.
var skipped = map[string]bool{"help": true, "from-json": true, "generate-full-command-json-input": true}

// camel converts an option name to the oci CLI's JSON input key:
// compartment-id -> compartmentId.
func camel(name string) string {
	parts := strings.Split(name, "-")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// parseFromJSON decodes a --from-json value (JSON, or file://path) into
// option names and the text each is set to. Keys are the oci CLI's
// camelCase (compartmentId) or the option names (compartment-id); objects
// and arrays become JSON text, as the complex options take them, except
// for repeatable options, whose arrays are their values.
func parseFromJSON(v string, repeatable func(name string) bool) (map[string][]string, error) {
	if path, ok := strings.CutPrefix(v, "file://"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		v = string(b)
	}
	if len(v) > maxFromJSON {
		return nil, fmt.Errorf("larger than %d bytes", maxFromJSON)
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var doc map[string]json.RawMessage
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("want a JSON object: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the JSON object")
	}
	out := map[string][]string{}
	for key, raw := range doc {
		name := kebab(key)
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%q given twice", name)
		}
		var val any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&val); err != nil {
			return nil, fmt.Errorf("%q: %w", key, err)
		}
		switch t := val.(type) {
		case nil:
			continue // the oci CLI's skeleton leaves unset values null
		case string:
			out[name] = []string{t}
		case bool:
			out[name] = []string{strconv.FormatBool(t)}
		case json.Number:
			out[name] = []string{t.String()}
		case []any:
			if repeatable(name) {
				vals := []string{}
				for _, e := range t {
					s, ok := e.(string)
					if !ok {
						return nil, fmt.Errorf("%q: want an array of strings", key)
					}
					vals = append(vals, s)
				}
				out[name] = vals
				continue
			}
			out[name] = []string{jsonText(t)}
		default:
			out[name] = []string{jsonText(t)}
		}
	}
	return out, nil
}

func isRepeatable(f *pflag.Flag) bool {
	return f != nil && (strings.HasSuffix(f.Value.Type(), "Slice") || strings.HasSuffix(f.Value.Type(), "Array"))
}

// applyFromJSON sets the command's options from --from-json. An option
// also given on the command line keeps that value, as in the oci CLI.
func (g *globals) applyFromJSON(cmd *cobra.Command) error {
	if g.fromJSON == "" {
		return nil
	}
	local := cmd.LocalFlags()
	vals, err := parseFromJSON(g.fromJSON, func(name string) bool { return isRepeatable(local.Lookup(name)) })
	if err != nil {
		return usageErrorf("--from-json: %v", err)
	}
	names := make([]string, 0, len(vals))
	for n := range vals {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		f := local.Lookup(name)
		if f == nil || skipped[name] {
			return usageErrorf("--from-json: %s takes no parameter %q (see --generate-full-command-json-input)", cmd.CommandPath(), name)
		}
		if f.Changed {
			continue
		}
		for _, v := range vals[name] {
			if err := cmd.Flags().Set(name, v); err != nil {
				return usageErrorf("--from-json: %s: %v", name, err)
			}
		}
	}
	return nil
}

// printSkeleton prints the command's parameters as --from-json takes
// them, each with a placeholder of its type, as the oci CLI's
// --generate-full-command-json-input does.
func printSkeleton(cmd *cobra.Command) error {
	doc := map[string]any{}
	cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if skipped[f.Name] || f.Hidden {
			return
		}
		var v any = "string"
		switch t := f.Value.Type(); {
		case t == "bool":
			v = true
		case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
			v = 0
		case isRepeatable(f):
			v = []string{"string", "string"}
		}
		doc[camel(f.Name)] = v
	})
	b, err := encodeJSON(doc, "  ")
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	_, err = cmd.OutOrStdout().Write(b)
	return err
}
