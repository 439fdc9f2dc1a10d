package companion

import (
	"context"
	"net/http"
	"time"

	"github.com/dialtone/dialtone"
)

// SIP is what the API needs to hand out SIP credentials: app credentials
// for the signed-in app (the browser dialer) and devices' credentials.
// With no Key, POST /api/v1/sip-credentials answers 503; with no Devices,
// the devices endpoints do.
type SIP struct {
	Key   []byte        // HMAC key of app credentials (dialtone.AppCredentialKey)
	TTL   time.Duration // lifetime of app credentials
	Realm string        // the digest realm, the SIP domain of the account's URI
	// Devices makes devices' credentials.
	Devices DeviceMaker
}

// DeviceMaker makes a device of acct called name: a new username and a
// random password, of which only the digest hashes for the switch's realm
// are stored. It returns the device and its password, to be shown once.
type DeviceMaker interface {
	CreateDevice(ctx context.Context, acct *dialtone.Account, name string) (*dialtone.Device, string, error)
}

// sipCredentials: POST /api/v1/sip-credentials gives the caller's account
// app credentials for SIP (REGISTER and INVITE over WebSocket): they
// expire after api's sip.app_credential_ttl, and the app asks again
// before, after renew_after_seconds. They cannot sign in to this API.
func (s *Server) sipCredentials(w http.ResponseWriter, _ *http.Request, c *caller) {
	if len(s.cfg.SIP.Key) == 0 || s.cfg.SIP.TTL <= 0 {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "this switch issues no SIP credentials")
		return
	}
	// The expiry is in whole seconds: rounded up, so they live TTL at least.
	ttl := s.cfg.SIP.TTL
	exp := s.now().Add(ttl)
	if t := exp.Truncate(time.Second); t.Before(exp) {
		exp = t.Add(time.Second)
	}
	cred := dialtone.IssueAppCredential(s.cfg.SIP.Key, c.account.Username, exp)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, map[string]any{
		"username":            cred.Username,
		"password":            cred.Password,
		"account":             c.account.Username,
		"realm":               s.cfg.SIP.Realm,
		"expires_at":          cred.ExpiresAt.Format(time.RFC3339),
		"ttl_seconds":         int64(ttl / time.Second),
		"renew_after_seconds": int64(ttl * 8 / 10 / time.Second), // at 80 % of the lifetime
	})
}
