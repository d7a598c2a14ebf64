package console

import (
	"strings"
	"testing"
)

func TestParseOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://vault.example.com":       "https://vault.example.com",
		"HTTPS://Vault.Example.COM/":      "https://vault.example.com",
		"https://vault.example.com:443":   "https://vault.example.com",
		"https://vault.example.com:8443":  "https://vault.example.com:8443",
		"http://vault.example.com:80":     "http://vault.example.com",
		"http://127.0.0.1:8420":           "http://127.0.0.1:8420",
		"https://[2001:DB8::1]:8443":      "https://[2001:db8::1]:8443",
		"https://xn--bcher-kva.example":   "https://xn--bcher-kva.example",
		"https://a-b.c":                   "https://a-b.c",
		"https://localhost":               "https://localhost",
		"https://vault.example.com:65535": "https://vault.example.com:65535",
	} {
		if got, err := ParseOrigin(in); err != nil || got != want {
			t.Errorf("ParseOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"":                                            "scheme",
		"vault.example.com":                           "scheme",
		"ftp://vault.example.com":                     "scheme",
		"https://":                                    "host is required",
		"https:vault":                                 "host is required",
		"https://u:p@vault.example.com":               "user name",
		"https://vault.example.com/app":               "no path",
		"https://vault.example.com/%2F":               "no path",
		"https://vault.example.com?x=1":               "no query",
		"https://vault.example.com?":                  "no query",
		"https://vault.example.com#x":                 "no fragment",
		"https://vault.example.com#":                  "no fragment",
		"https://vault.example.com:":                  "port is empty",
		"https://vault.example.com:0":                 "port",
		"https://vault.example.com:99999":             "port",
		"https://vault.example.com:0443":              "port",
		"https://vault_1.example.com":                 "DNS name",
		"https://-x.example.com":                      "DNS name",
		"https://x..com":                              "DNS name",
		"https://[fe80::1%25eth0]":                    "IPv6",
		"https://[10.0.0.1]":                          "URL",
		"https://" + strings.Repeat("a", 64) + ".com": "DNS name",
		"https://vault.example.com\n":                 "URL",
	} {
		if got, err := ParseOrigin(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseOrigin(%q) = %q, %v; want an error about %q", in, got, err, msg)
		}
	}
}
