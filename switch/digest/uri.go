package digest

import (
	"net/url"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// sameURI reports whether the digest-uri of an answer names the
// Request-URI of the request it came with (RFC 3261 section 22.4 says it
// must be that URI). They are compared as SIP URIs (RFC 3261 section
// 19.1.4), not byte for byte: we see the Request-URI only as the parser
// rebuilt it, and the comparison ignores just what does not change where a
// request goes (host case, escaping, parameter order) while any other
// user, host, port, scheme, transport or maddr is a mismatch.
func sameURI(digestURI string, requestURI sip.Uri) bool {
	var u sip.Uri
	if err := sip.ParseUri(digestURI, &u); err != nil {
		return false
	}
	return equalURI(&u, &requestURI)
}

// equalURI is RFC 3261 section 19.1.4 URI equality. URIs of other schemes
// than sip and sips are equal when their texts are.
func equalURI(a, b *sip.Uri) bool {
	if scheme(a) != scheme(b) || a.Wildcard || b.Wildcard {
		return false
	}
	if scheme(a) != "sip" && scheme(a) != "sips" {
		return a.Raw() == b.Raw()
	}
	return unescape(a.User) == unescape(b.User) &&
		unescape(a.Password) == unescape(b.Password) &&
		strings.EqualFold(a.Host, b.Host) &&
		a.Port == b.Port &&
		sameParams(a.UriParams, b.UriParams) &&
		sameHeaders(a.Headers, b.Headers)
}

func scheme(u *sip.Uri) string {
	if u.Scheme == "" {
		return "sip"
	}
	return strings.ToLower(u.Scheme)
}

// mustMatchParams are the URI parameters that, present in one URI only,
// make the URIs differ (RFC 3261 section 19.1.4).
var mustMatchParams = [...]string{"user", "ttl", "method", "maddr", "transport"}

// sameParams: a parameter in both URIs must have the same value (compared
// case-insensitively); one in a single URI is ignored unless it is one of
// mustMatchParams.
func sameParams(a, b sip.HeaderParams) bool {
	for _, kv := range a {
		if v, ok := param(b, kv.K); ok {
			if !strings.EqualFold(unescape(kv.V), unescape(v)) {
				return false
			}
		} else if mustMatch(kv.K) {
			return false
		}
	}
	for _, kv := range b {
		if _, ok := param(a, kv.K); !ok && mustMatch(kv.K) {
			return false
		}
	}
	return true
}

// sameHeaders: header components must be the same set in both URIs.
func sameHeaders(a, b sip.HeaderParams) bool {
	if len(a) != len(b) {
		return false
	}
	for _, kv := range a {
		if v, ok := param(b, kv.K); !ok || unescape(v) != unescape(kv.V) {
			return false
		}
	}
	return true
}

func param(ps sip.HeaderParams, name string) (string, bool) {
	for _, kv := range ps {
		if strings.EqualFold(kv.K, name) {
			return kv.V, true
		}
	}
	return "", false
}

func mustMatch(name string) bool {
	for _, p := range mustMatchParams {
		if strings.EqualFold(p, name) {
			return true
		}
	}
	return false
}

// unescape decodes %HH escapes; text with a malformed escape stays as it is.
func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
