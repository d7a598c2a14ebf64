package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/term"
)

// response is what a command prints: the SDK model under "data", and the
// response headers the oci CLI shows next to it.
type response struct {
	data     any
	etag     *string
	nextPage *string
	// workRequest is the opc-work-request-id of an asynchronous operation.
	workRequest *string
	// secret marks a response holding secret bundle content, which is
	// replaced by a note unless the user asked for it (see redactContent).
	secret bool
}

// contentHiddenNote replaces secret content in printed bundles.
const contentHiddenNote = `<hidden: add --decode to print the decoded content, or --query 'data."secret-bundle-content".content' --raw-output for the base64>`

// userDataKeys hold maps whose keys are the user's own (tags, metadata):
// their keys are printed as given, not converted to kebab case.
var userDataKeys = map[string]bool{
	"freeform-tags": true, "defined-tags": true, "system-tags": true,
	"metadata": true, "logging-context": true, "associated-data": true,
}

// kebab converts an SDK JSON key (camelCase) to the oci CLI's kebab-case:
// lifecycleState -> lifecycle-state, wrappingkeyId -> wrappingkey-id,
// isMfaActivated -> is-mfa-activated, canUseDBCredentials ->
// can-use-db-credentials.
func kebab(s string) string {
	var b strings.Builder
	runes := []rune(s)
	// An upper-case letter is one that has a lower case (ϒ, say, is upper
	// case but has none): only those start a word, so that kebab of its
	// own result changes nothing.
	upper := func(r rune) bool { return unicode.IsUpper(r) && unicode.ToLower(r) != r }
	for i, r := range runes {
		if upper(r) {
			prevLower := i > 0 && (unicode.IsLower(runes[i-1]) || unicode.IsDigit(runes[i-1]))
			nextLower := i > 0 && i+1 < len(runes) && unicode.IsLower(runes[i+1]) && upper(runes[i-1])
			if prevLower || nextLower {
				b.WriteByte('-')
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		if r == '_' {
			b.WriteByte('-')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// kebabKeys converts the keys of decoded JSON recursively, leaving the
// contents of user-data maps alone.
func kebabKeys(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			nk := kebab(k)
			if userDataKeys[nk] {
				out[nk] = val
				continue
			}
			out[nk] = kebabKeys(val)
		}
		return out
	case []any:
		for i := range t {
			t[i] = kebabKeys(t[i])
		}
		return t
	}
	return v
}

// document builds the printed JSON value of a response: {"data": ...,
// "etag": ..., "opc-next-page": ...} with kebab-case keys.
func (r response) document() (map[string]any, error) {
	raw, err := json.Marshal(r.data)
	if err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	var data any
	if err := json.Unmarshal(raw, &data); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	doc := map[string]any{}
	if r.data != nil {
		doc["data"] = kebabKeys(data)
	}
	for key, v := range map[string]*string{"etag": r.etag, "opc-next-page": r.nextPage, "opc-work-request-id": r.workRequest} {
		if v != nil && *v != "" {
			doc[key] = *v
		}
	}
	return doc, nil
}

// redactContent replaces data."secret-bundle-content".content with a note
// and reports the content it removed.
func redactContent(doc map[string]any) (content string, found bool) {
	data, _ := doc["data"].(map[string]any)
	sbc, _ := data["secret-bundle-content"].(map[string]any)
	c, ok := sbc["content"].(string)
	if !ok {
		return "", false
	}
	sbc["content"] = contentHiddenNote
	return c, true
}

// print writes a response in the chosen format after --query. Secret
// content is printed only when the query selects exactly the content
// field: the user named it, so they asked for it.
func (g *globals) print(w io.Writer, r response) error {
	doc, err := r.document()
	if err != nil {
		return err
	}
	var out any = doc
	if r.secret {
		full, err := r.document()
		if err != nil {
			return err
		}
		content, found := redactContent(doc)
		if found && g.query != "" {
			if v, err := search(g.query, full); err == nil {
				if s, ok := v.(string); ok && s == content {
					return g.emit(w, v)
				}
			}
		}
	}
	if g.query != "" {
		out, err = search(g.query, out)
		if err != nil {
			return usageErrorf("--query: %v", err)
		}
	} else if data, ok := doc["data"]; ok && g.output == "table" {
		out = data
	}
	return g.emit(w, out)
}

func (g *globals) emit(w io.Writer, v any) error {
	if g.rawOutput {
		if s, ok := v.(string); ok {
			_, err := fmt.Fprintln(w, s)
			return err
		}
	}
	if v == nil && g.query != "" {
		// The oci CLI prints nothing when a query selects nothing.
		return nil
	}
	if g.output == "table" {
		_, err := io.WriteString(w, table(v, g.tableWidth(w)))
		return err
	}
	b, err := encodeJSON(v, "    ")
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	_, err = w.Write(b)
	return err
}

// defaultWidth is the table width when the output is not a terminal and
// COLUMNS is not set.
const defaultWidth = 100

// minColumn is the narrowest a truncated column gets, unless its header
// is wider.
const minColumn = 8

// tableWidth is the width tables are fitted to: all of it with --wide,
// else the terminal's, else $COLUMNS, else defaultWidth.
func (g *globals) tableWidth(w io.Writer) int {
	if g.wide {
		return 0
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
	}
	if n, err := strconv.Atoi(g.getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return defaultWidth
}

// table renders a list of objects (or one object, or scalars) as the oci
// CLI's box table: one column per key, nested values as compact JSON. With
// a limit > 0 the columns are narrowed to fit it, names and descriptions
// before OCIDs, and cut values end in "…".
func table(v any, limit int) string {
	var rows []map[string]any
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			if m, ok := e.(map[string]any); ok {
				rows = append(rows, m)
			} else {
				rows = append(rows, map[string]any{"Column1": e})
			}
		}
	case map[string]any:
		rows = []map[string]any{t}
	default:
		rows = []map[string]any{{"Column1": t}}
	}
	if len(rows) == 0 {
		return ""
	}
	colSet := map[string]bool{}
	for _, r := range rows {
		for k := range r {
			colSet[k] = true
		}
	}
	cols := make([]string, 0, len(colSet))
	for k := range colSet {
		cols = append(cols, k)
	}
	sort.Strings(cols)
	cells := make([][]string, len(rows))
	width := make([]int, len(cols))
	for i, c := range cols {
		width[i] = utf8.RuneCountInString(c)
	}
	for ri, r := range rows {
		cells[ri] = make([]string, len(cols))
		for ci, c := range cols {
			s := cell(r[c])
			cells[ri][ci] = s
			width[ci] = max(width[ci], utf8.RuneCountInString(s))
		}
	}
	floor := make([]int, len(cols))
	for i, c := range cols {
		// Headers stay whole: two cut alike (time-of…) would be ambiguous.
		floor[i] = min(width[i], max(minColumn, utf8.RuneCountInString(c)))
	}
	fit(width, floor, idColumns(cols, rows), limit)
	for i, c := range cols {
		cols[i] = truncate(c, width[i])
	}
	for _, r := range cells {
		for ci := range r {
			r[ci] = truncate(r[ci], width[ci])
		}
	}
	var b strings.Builder
	sep := func() {
		b.WriteByte('+')
		for _, wd := range width {
			b.WriteString(strings.Repeat("-", wd+2))
			b.WriteByte('+')
		}
		b.WriteByte('\n')
	}
	line := func(vals []string) {
		b.WriteByte('|')
		for i, s := range vals {
			b.WriteString(" " + s + strings.Repeat(" ", width[i]-utf8.RuneCountInString(s)) + " |")
		}
		b.WriteByte('\n')
	}
	sep()
	line(cols)
	sep()
	for _, r := range cells {
		line(r)
	}
	sep()
	return b.String()
}

// idColumns marks the columns holding OCIDs, which are narrowed last: an
// id cut short cannot be pasted into the next command.
func idColumns(cols []string, rows []map[string]any) []bool {
	ids := make([]bool, len(cols))
	for i, c := range cols {
		if c == "id" || strings.HasSuffix(c, "-id") {
			ids[i] = true
			continue
		}
		ids[i] = true
		for _, r := range rows {
			if s, ok := r[c].(string); !ok || !strings.HasPrefix(s, "ocid1.") {
				ids[i] = false
				break
			}
		}
	}
	return ids
}

// fit narrows width so that the table is at most limit wide: the widest
// column other than ids loses a character at a time, down to its floor,
// then the ids do. A table that cannot fit is left at its narrowest.
func fit(width, floor []int, ids []bool, limit int) {
	if limit <= 0 {
		return
	}
	total := 1
	for _, w := range width {
		total += w + 3
	}
	for _, idPass := range []bool{false, true} {
		for total > limit {
			widest := -1
			for i, w := range width {
				if ids[i] == idPass && w > floor[i] && (widest < 0 || w > width[widest]) {
					widest = i
				}
			}
			if widest < 0 {
				break
			}
			width[widest]--
			total--
		}
	}
}

// truncate cuts s to n runes, the last one "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func cell(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return strings.ReplaceAll(t, "\n", " ")
	}
	return jsonText(v)
}
