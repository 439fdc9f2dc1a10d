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
// request goes (host case, escaping, parameter order), while another
// scheme, user, password, host or port is a mismatch.
//
// One departure from section 19.1.4: a URI parameter present in one URI
// only is ignored, even transport, user, ttl, method and maddr. sipgo's
// client answers with the Request-URI stripped of its parameters
// (sipgo.Client.DoDigestAuth uses Uri.Addr), and the switch routes a call
// on the user part alone, so such a parameter does not change what the
// answer authorizes. A parameter present in both must have the same value.
func sameURI(digestURI string, requestURI sip.Uri) bool {
	var u sip.Uri
	if err := sip.ParseUri(digestURI, &u); err != nil {
		return false
	}
	return equalURI(&u, &requestURI)
}

// equalURI is URI equality as sameURI describes it. URIs of other schemes
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

// sameParams: a parameter in both URIs must have the same value (compared
// case-insensitively); one in a single URI is ignored.
func sameParams(a, b sip.HeaderParams) bool {
	for _, kv := range a {
		if v, ok := param(b, kv.K); ok && !strings.EqualFold(unescape(kv.V), unescape(v)) {
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
