package edge

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/switch/digest"
)

// Devices finds a device by its digest username and records where it
// signed in (the store implements it).
type Devices interface {
	DeviceByUsername(ctx context.Context, username string) (*dialtone.Device, error)
	DeviceSeen(ctx context.Context, id int64, addr netip.Addr, at time.Time) error
}

// Credentials tells who a digest username is. Two kinds sign in to SIP:
//
//   - app credentials (dialtone.AppCredential), issued by the companion
//     API to a signed-in app: nothing is stored; the password is derived
//     from the key and the username, and from it the HA1 hashes, on each
//     request. An expired one is known and answered as expired;
//   - devices (dialtone.Device), read from the store on every request,
//     never cached, so that a revocation holds at the next request.
//
// The account behind either is read through the Accounts it is given
// (usually an AccountCache). Safe for concurrent use.
type Credentials struct {
	accounts Accounts
	devices  Devices
	realm    string
	key      []byte        // of app credentials; nil: none are accepted
	maxTTL   time.Duration // an app credential expiring further ahead than this (and a minute) is refused
	now      func() time.Time

	mu   sync.Mutex
	seen map[int64]seen // last time written per device
}

type seen struct {
	at   time.Time
	addr netip.Addr
}

// seenEvery is how often a device's last sign-in is written at most, when
// it comes from the same address.
const seenEvery = time.Minute

// NewCredentials returns the credentials of accounts and devices, and of
// the app credentials made with key (none when key is empty) that live at
// most maxTTL, for realm.
func NewCredentials(accounts Accounts, devices Devices, realm string, key []byte, maxTTL time.Duration) *Credentials {
	return &Credentials{accounts: accounts, devices: devices, realm: realm, key: key, maxTTL: maxTTL, now: time.Now, seen: map[int64]seen{}}
}

// Login is a username's credentials and whom they sign in.
type Login struct {
	Username string // the digest username
	Account  *dialtone.Account
	Digest   digest.Credentials
	Device   *dialtone.Device // nil for app credentials
	// Expired: app credentials past their expiry. They are checked like
	// others, so that the answer tells an honest client, not a guesser.
	Expired bool
}

// Errors of Lookup, all answered as an unknown user.
var (
	errNoAppCredentials = errors.New("app credentials are not accepted")
	errTooLong          = errors.New("app credential expires further ahead than sip.app_credential_ttl allows")
	errRevoked          = errors.New("device revoked")
)

// Lookup returns the credentials of username. A username that signs in
// nobody (no such device or account, revoked, app credentials not valid)
// is an error wrapping digest.ErrUnknownUser; any other error is the
// store's, not the client's.
func (c *Credentials) Lookup(ctx context.Context, username string) (*Login, error) {
	l, err := c.lookup(ctx, username)
	if err != nil && (errors.Is(err, dialtone.ErrNotFound) || errors.Is(err, dialtone.ErrInvalid) ||
		errors.Is(err, errNoAppCredentials) || errors.Is(err, errTooLong) || errors.Is(err, errRevoked)) {
		return nil, fmt.Errorf("%w: %w", digest.ErrUnknownUser, err)
	}
	return l, err
}

func (c *Credentials) lookup(ctx context.Context, username string) (*Login, error) {
	if dialtone.IsAppCredential(username) {
		return c.app(ctx, username)
	}
	d, err := c.devices.DeviceByUsername(ctx, username)
	if err != nil {
		return nil, err
	}
	if d.Revoked() {
		return nil, fmt.Errorf("%w: %q at %s", errRevoked, username, d.RevokedAt.Format(time.RFC3339))
	}
	a, err := c.accounts.AccountByUsername(ctx, d.Account)
	if err != nil {
		return nil, fmt.Errorf("account of device %q: %w", username, err)
	}
	return &Login{Username: username, Account: a, Device: d, Digest: digest.Credentials{HA1MD5: d.HA1MD5, HA1SHA256: d.HA1SHA256, Realm: d.Realm}}, nil
}

func (c *Credentials) app(ctx context.Context, username string) (*Login, error) {
	if len(c.key) == 0 {
		return nil, errNoAppCredentials
	}
	name, expires, err := dialtone.ParseAppCredential(username)
	if err != nil {
		return nil, err
	}
	now := c.now()
	if expires.After(now.Add(c.maxTTL + time.Minute)) {
		return nil, fmt.Errorf("%w: %q", errTooLong, username)
	}
	a, err := c.accounts.AccountByUsername(ctx, name)
	if err != nil {
		return nil, err
	}
	pw := dialtone.AppCredentialPassword(c.key, username)
	return &Login{Username: username, Account: a, Expired: !now.Before(expires), Digest: digest.Credentials{
		HA1MD5: digest.HA1(digest.MD5, username, c.realm, pw), HA1SHA256: digest.HA1(digest.SHA256, username, c.realm, pw), Realm: c.realm,
	}}, nil
}

// Seen records that l's device signed in from src: written when the
// address changed or a minute has passed since the last write by this
// node, so that a phone's requests do not each write.
func (c *Credentials) Seen(ctx context.Context, l *Login, src netip.Addr) error {
	if l.Device == nil {
		return nil
	}
	now := c.now()
	c.mu.Lock()
	last, ok := c.seen[l.Device.ID]
	due := !ok || last.addr != src || now.Sub(last.at) >= seenEvery
	if due {
		if len(c.seen) >= maxCached {
			clear(c.seen)
		}
		c.seen[l.Device.ID] = seen{at: now, addr: src}
	}
	c.mu.Unlock()
	if !due {
		return nil
	}
	return c.devices.DeviceSeen(ctx, l.Device.ID, src, now)
}
