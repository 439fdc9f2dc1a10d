package dialtone

import (
	"context"
	"fmt"
	"net/netip"
	"time"
)

// Device is one set of SIP digest credentials of an account, for a
// softphone, a desk phone or a PBX trunk. Its password is shown once, when
// it is made; only the digest HA1 hashes are kept (RFC 3261 section 22.4,
// RFC 8760). A device can register and place calls as its account and do
// nothing else: it cannot sign in to the companion API.
type Device struct {
	ID        int64
	AccountID int64
	Account   string // the account's username, filled when read
	Name      string // the user's label, e.g. "desk phone"
	Username  string // the digest username, unique across devices, revoked ones too
	Realm     string // the realm the hashes were made for
	HA1MD5    string
	HA1SHA256 string
	CreatedAt time.Time
	// LastSeenAt and LastSeenAddr are where and when the device last
	// authenticated (zero: never); kept at most about once a minute.
	LastSeenAt   time.Time
	LastSeenAddr string
	RevokedAt    time.Time // zero: not revoked
}

// MaxDevices is how many devices, not revoked, an account may have.
const MaxDevices = 20

// Revoked reports whether the device was revoked.
func (d *Device) Revoked() bool { return !d.RevokedAt.IsZero() }

// Validate reports the first problem with d, naming the field.
func (d *Device) Validate() error {
	switch {
	case d.AccountID <= 0:
		return fmt.Errorf("%w device: no account", ErrInvalid)
	case len(d.Name) > 64:
		return fmt.Errorf("%w device: name is longer than 64 characters", ErrInvalid)
	case d.Realm == "":
		return fmt.Errorf("%w device %q: realm is empty", ErrInvalid, d.Username)
	case d.HA1MD5 == "" || d.HA1SHA256 == "":
		return fmt.Errorf("%w device %q: digest hashes are empty", ErrInvalid, d.Username)
	}
	if err := ValidDeviceUsername(d.Username); err != nil {
		return err
	}
	for _, r := range d.Name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w device: name may not hold control characters", ErrInvalid)
		}
	}
	return nil
}

// ValidDeviceUsername checks a device's digest username: 1 to 80 letters,
// digits, '.', '_' and '-', which every SIP stack and phone keypad takes
// as the user part of a URI. The app credentials' separator '~' is not
// among them, so a device username never reads as an app credential.
func ValidDeviceUsername(u string) error {
	if u == "" || len(u) > 80 {
		return fmt.Errorf("%w device username %q: must be 1 to 80 characters", ErrInvalid, u)
	}
	if !usernameChars(u) {
		return fmt.Errorf("%w device username %q: may hold only letters, digits, '.', '_' and '-'", ErrInvalid, u)
	}
	return nil
}

// usernameChars reports whether s holds only letters, digits, '.', '_'
// and '-', the characters of account and device usernames.
func usernameChars(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// DeviceStore keeps devices.
type DeviceStore interface {
	// CreateDevice inserts d and sets its ID and CreatedAt; ErrConflict
	// when its username is taken (by any device, revoked ones too),
	// ErrNotFound when its account does not exist.
	CreateDevice(ctx context.Context, d *Device) error
	// DeviceByUsername returns the device, revoked or not, with Account
	// filled; ErrNotFound when there is none.
	DeviceByUsername(ctx context.Context, username string) (*Device, error)
	// Devices lists an account's devices, revoked ones too, by ID.
	Devices(ctx context.Context, accountID int64) ([]*Device, error)
	// RevokeDevice marks the account's device id revoked at at and returns
	// it; revoking twice keeps the first time. ErrNotFound when the
	// account has no such device.
	RevokeDevice(ctx context.Context, accountID, id int64, at time.Time) (*Device, error)
	// SetDevicePassword replaces the hashes of the account's device
	// username (not revoked); ErrNotFound when there is none.
	SetDevicePassword(ctx context.Context, accountID int64, username, realm, ha1MD5, ha1SHA256 string) error
	// DeviceSeen records where and when the device last authenticated.
	DeviceSeen(ctx context.Context, id int64, addr netip.Addr, at time.Time) error
}

// SecretStore keeps server secrets made on first use and shared by every
// node of one store.
type SecretStore interface {
	// Secret returns the secret called name; when there is none yet it
	// stores value first. Nodes asking at once all get the one stored.
	Secret(ctx context.Context, name, value string) (string, error)
}
