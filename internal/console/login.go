package console

import (
	"encoding/json"
	"mime"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/errs"
)

// Bounds of a login's fields. OCI user names are at most 100 characters;
// generated passwords are 26.
const (
	maxUserName = 100
	maxPassword = 256
)

// loginRequest is a decoded login. Password never appears in an error.
type loginRequest struct {
	UserName string
	Password []byte
}

// decodeLogin decodes a login body, JSON ({"userName","password"}) or an
// HTML form (userName=...&password=...), by its Content-Type. Errors name
// the field at fault, never its value.
func decodeLogin(contentType string, body []byte) (loginRequest, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = ""
	}
	var name, password string
	switch mt {
	case "application/json":
		var d struct {
			UserName *string `json:"userName"`
			Password *string `json:"password"`
		}
		if err := json.Unmarshal(body, &d); err != nil {
			return loginRequest{}, errs.E(errs.CannotParse, "the login body is not a JSON object with string fields userName and password")
		}
		if d.UserName != nil {
			name = *d.UserName
		}
		if d.Password != nil {
			password = *d.Password
		}
	case "application/x-www-form-urlencoded":
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return loginRequest{}, errs.E(errs.CannotParse, "the login body is not a well-formed form")
		}
		for _, f := range []string{"userName", "password"} {
			if len(q[f]) > 1 {
				return loginRequest{}, errs.E(errs.Invalid, "the login form has %s more than once", f)
			}
		}
		name, password = q.Get("userName"), q.Get("password")
	default:
		return loginRequest{}, errs.E(errs.Invalid, "Content-Type must be application/json or application/x-www-form-urlencoded")
	}
	switch {
	case name == "":
		return loginRequest{}, errs.E(errs.Missing, "userName is required")
	case len(name) > maxUserName || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0:
		return loginRequest{}, errs.E(errs.Invalid, "userName must be at most %d bytes of UTF-8 text without control characters", maxUserName)
	case password == "":
		return loginRequest{}, errs.E(errs.Missing, "password is required")
	case len(password) > maxPassword:
		return loginRequest{}, errs.E(errs.Invalid, "password must be at most %d bytes", maxPassword)
	}
	return loginRequest{UserName: name, Password: []byte(password)}, nil
}
