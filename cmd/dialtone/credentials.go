package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/switch/digest"
)

// appCredentialKey is the HMAC key of app credentials: derived from
// sip.auth_secret when it is set, else from a secret made on first start
// and kept in the store, which every node of one database shares.
func appCredentialKey(ctx context.Context, cfg *Config, st dialtone.SecretStore) ([]byte, error) {
	if cfg.SIP.AuthSecret != "" {
		return dialtone.AppCredentialKey([]byte(cfg.SIP.AuthSecret)), nil
	}
	secret, err := st.Secret(ctx, "app_credentials", randomHex(32))
	if err != nil {
		return nil, fmt.Errorf("app credentials key: %w", err)
	}
	return dialtone.AppCredentialKey([]byte(secret)), nil
}

// nonceKey signs digest nonces: sip.auth_secret when it is set, else a
// secret made on first start and kept in the store, so that nonces stay
// valid across a restart and on every node of one database.
func nonceKey(ctx context.Context, cfg *Config, st dialtone.SecretStore) ([]byte, error) {
	if cfg.SIP.AuthSecret != "" {
		return []byte(cfg.SIP.AuthSecret), nil
	}
	secret, err := st.Secret(ctx, "nonces", randomHex(32))
	if err != nil {
		return nil, fmt.Errorf("nonce key: %w", err)
	}
	return []byte(secret), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b)
}

// passwordAlphabet makes device passwords: lower-case letters and digits,
// easy to type on a phone's keypad or web page (20 of them: about 100 bits).
const passwordAlphabet = "abcdefghijkmnopqrstuvwxyz23456789"

func randomString(n int) string {
	out := make([]byte, 0, n)
	b := make([]byte, 1)
	limit := 256 - 256%len(passwordAlphabet) // bytes past it would favour some letters
	for len(out) < n {
		_, _ = rand.Read(b)
		if int(b[0]) < limit {
			out = append(out, passwordAlphabet[int(b[0])%len(passwordAlphabet)])
		}
	}
	return string(out)
}

// devices makes devices' credentials for the CLI and the API: only the
// digest hashes for the realm are stored.
type devices struct {
	st    dialtone.Store
	realm string
}

// newDevice stores a device of acct; an empty username gets
// ACCOUNT.XXXXXX, an empty password a random one. It returns the password.
func (m devices) newDevice(ctx context.Context, acct *dialtone.Account, name, username, password string) (*dialtone.Device, string, error) {
	if password == "" {
		password = randomString(20)
	}
	ds, err := m.st.Devices(ctx, acct.ID)
	if err != nil {
		return nil, "", err
	}
	live := 0
	for _, d := range ds {
		if !d.Revoked() {
			live++
		}
	}
	if live >= dialtone.MaxDevices {
		return nil, "", fmt.Errorf("%w: account %s has %d devices, the most allowed; revoke one first", dialtone.ErrForbidden, acct.Username, live)
	}
	for attempt := 0; ; attempt++ {
		u := username
		if u == "" {
			u = acct.Username + "." + randomString(6)
		}
		d := &dialtone.Device{AccountID: acct.ID, Account: acct.Username, Name: name, Username: u, Realm: m.realm,
			HA1MD5: digest.HA1(digest.MD5, u, m.realm, password), HA1SHA256: digest.HA1(digest.SHA256, u, m.realm, password)}
		err := m.st.CreateDevice(ctx, d)
		if errors.Is(err, dialtone.ErrConflict) && username == "" && attempt < 3 {
			continue // a random username taken: draw again
		}
		if err != nil {
			return nil, "", err
		}
		return d, password, nil
	}
}

// CreateDevice implements companion.DeviceMaker.
func (m devices) CreateDevice(ctx context.Context, acct *dialtone.Account, name string) (*dialtone.Device, string, error) {
	return m.newDevice(ctx, acct, name, "", "")
}

// setSIPPassword sets the password of the device named as the account
// (the one phones set up with the account's name use), making it when
// there is none.
func (m devices) setSIPPassword(ctx context.Context, acct *dialtone.Account, password string) error {
	md5 := digest.HA1(digest.MD5, acct.Username, m.realm, password)
	sha := digest.HA1(digest.SHA256, acct.Username, m.realm, password)
	err := m.st.SetDevicePassword(ctx, acct.ID, acct.Username, m.realm, md5, sha)
	if errors.Is(err, dialtone.ErrNotFound) {
		_, _, err = m.newDevice(ctx, acct, "account password", acct.Username, password)
		if errors.Is(err, dialtone.ErrConflict) {
			return fmt.Errorf("device %s was revoked or belongs to another account: add a device instead (dialtone device add %s)", acct.Username, acct.Username)
		}
	}
	return err
}

// setAPIPassword sets the companion API password of an account (bcrypt).
func setAPIPassword(ctx context.Context, st dialtone.Store, acct *dialtone.Account, password string) error {
	if len(password) > 72 {
		return errors.New("an API password has at most 72 bytes")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return st.SetPassword(ctx, acct.ID, string(hash))
}
