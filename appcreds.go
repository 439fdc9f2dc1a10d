package dialtone

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// App credentials are the short-lived SIP digest credentials the companion
// API issues to a signed-in app (the browser dialer) and the switch checks
// without storing them, as TURN servers check REST API credentials
// (draft-uberti-behave-turn-rest-00 section 2.2):
//
//	username = EXPIRY "~" ACCOUNT       e.g. "1767225600~alice"
//	password = base64(HMAC-SHA256(key, username))
//
// EXPIRY is when the credentials stop working, in Unix seconds. The
// separator is '~' rather than TURN's ':' because the username is also the
// user part of SIP URIs, where ':' would start a password (RFC 3261
// section 19.1.1); '~' is unreserved there, and account and device
// usernames never hold it, so an app credential cannot be taken for either.
// The key is the server's (see AppCredentialKey); every node that shares
// it accepts the credentials any of them issued.

// AppCredentialSep separates the expiry from the account in an app
// credential's username.
const AppCredentialSep = '~'

// AppCredential is one issued set of app credentials.
type AppCredential struct {
	Username  string
	Password  string
	Account   string
	ExpiresAt time.Time
}

// AppCredentialKey derives the HMAC key of app credentials from a server
// secret, so that the secret's other use (signing digest nonces) and this
// one never share a key.
func AppCredentialKey(secret []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("dialtone app credentials v1"))
	return mac.Sum(nil)
}

// IssueAppCredential makes the credentials of account that expire at
// expires (to the second).
func IssueAppCredential(key []byte, account string, expires time.Time) AppCredential {
	u := strconv.FormatInt(expires.Unix(), 10) + string(AppCredentialSep) + account
	return AppCredential{Username: u, Password: AppCredentialPassword(key, u), Account: account, ExpiresAt: time.Unix(expires.Unix(), 0).UTC()}
}

// AppCredentialPassword is the password of an app credential's username.
func AppCredentialPassword(key []byte, username string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// IsAppCredential reports whether username has the form of an app
// credential (it holds the separator, which no account or device username
// holds); ParseAppCredential says whether it is a valid one.
func IsAppCredential(username string) bool {
	return strings.IndexByte(username, AppCredentialSep) >= 0
}

// ParseAppCredential reads an app credential's username: the account and
// the expiry. The form is canonical: the expiry is 1 to 12 decimal digits
// without leading zeros, the account a valid account username.
func ParseAppCredential(username string) (account string, expires time.Time, err error) {
	exp, acct, ok := strings.Cut(username, string(AppCredentialSep))
	if !ok {
		return "", time.Time{}, fmt.Errorf("%w app credential %q: no %q", ErrInvalid, username, AppCredentialSep)
	}
	if exp == "" || len(exp) > 12 || exp[0] == '0' {
		return "", time.Time{}, fmt.Errorf("%w app credential %q: expiry is not 1 to 12 digits", ErrInvalid, username)
	}
	for i := 0; i < len(exp); i++ {
		if exp[i] < '0' || exp[i] > '9' {
			return "", time.Time{}, fmt.Errorf("%w app credential %q: expiry is not a number", ErrInvalid, username)
		}
	}
	secs, err := strconv.ParseInt(exp, 10, 64)
	if err != nil { // 12 digits always fit: unreachable
		return "", time.Time{}, fmt.Errorf("%w app credential %q: %v", ErrInvalid, username, err)
	}
	if acct == "" || len(acct) > 64 || !usernameChars(acct) {
		return "", time.Time{}, fmt.Errorf("%w app credential %q: account is not a valid username", ErrInvalid, username)
	}
	return acct, time.Unix(secs, 0).UTC(), nil
}
