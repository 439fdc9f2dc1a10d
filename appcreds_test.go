package dialtone

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAppCredentialRoundTrip(t *testing.T) {
	key := AppCredentialKey([]byte("a shared secret of the nodes"))
	exp := time.Date(2026, 12, 3, 15, 0, 0, 500, time.UTC)
	c := IssueAppCredential(key, "alice.smith", exp)
	if c.Username != "1796310000~alice.smith" {
		t.Errorf("Username = %q, want %q", c.Username, "1796310000~alice.smith")
	}
	if !c.ExpiresAt.Equal(exp.Truncate(time.Second)) {
		t.Errorf("ExpiresAt = %v, want %v", c.ExpiresAt, exp.Truncate(time.Second))
	}
	acct, got, err := ParseAppCredential(c.Username)
	if err != nil || acct != "alice.smith" || !got.Equal(c.ExpiresAt) {
		t.Fatalf("ParseAppCredential(%q) = %q, %v, %v; want alice.smith, %v", c.Username, acct, got, err, c.ExpiresAt)
	}
	if p := AppCredentialPassword(key, c.Username); p != c.Password {
		t.Errorf("AppCredentialPassword = %q, want the issued %q", p, c.Password)
	}
	// Another key, another account or another expiry: another password.
	for _, other := range []string{
		AppCredentialPassword(AppCredentialKey([]byte("another secret")), c.Username),
		AppCredentialPassword(key, "1796310000~alice.smitj"),
		AppCredentialPassword(key, "1796310001~alice.smith"),
	} {
		if other == c.Password {
			t.Errorf("password %q repeats for other input", other)
		}
	}
	if len(c.Password) != 44 || strings.ContainsAny(c.Password, " :\"") {
		t.Errorf("Password = %q, want 44 base64 characters", c.Password)
	}
	if string(AppCredentialKey([]byte("s"))) == "s" {
		t.Error("AppCredentialKey returned the secret itself")
	}
}

func TestParseAppCredential(t *testing.T) {
	for _, tt := range []struct {
		in   string
		acct string
		exp  int64
		ok   bool
	}{
		{"1~a", "a", 1, true},
		{"999999999999~bob-1_x.y", "bob-1_x.y", 999999999999, true},
		{"1767225600~" + strings.Repeat("z", 64), strings.Repeat("z", 64), 1767225600, true},
		{"1767225600~" + strings.Repeat("z", 65), "", 0, false},
		{"1767225600", "", 0, false},
		{"~alice", "", 0, false},
		{"0~alice", "", 0, false},
		{"01767225600~alice", "", 0, false},
		{"1000000000000~alice", "", 0, false},
		{"-1~alice", "", 0, false},
		{"+1~alice", "", 0, false},
		{"17672256O0~alice", "", 0, false},
		{"1767225600~", "", 0, false},
		{"1767225600~al~ice", "", 0, false},
		{"1767225600~al ice", "", 0, false},
		{"1767225600~al:ice", "", 0, false},
		{"1767225600~alicé", "", 0, false},
		{"alice~1767225600", "", 0, false},
		{"", "", 0, false},
	} {
		acct, exp, err := ParseAppCredential(tt.in)
		if tt.ok != (err == nil) || acct != tt.acct || (tt.ok && exp.Unix() != tt.exp) {
			t.Errorf("ParseAppCredential(%q) = %q, %v, %v; want %q, %d, ok %v", tt.in, acct, exp.Unix(), err, tt.acct, tt.exp, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseAppCredential(%q) error %v is not ErrInvalid", tt.in, err)
		}
	}
}

func TestDeviceValidate(t *testing.T) {
	ok := Device{AccountID: 1, Name: "desk phone", Username: "alice.k3f9", Realm: "dialtone", HA1MD5: "x", HA1SHA256: "y"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	for name, change := range map[string]func(d *Device){
		"no account":      func(d *Device) { d.AccountID = 0 },
		"no username":     func(d *Device) { d.Username = "" },
		"app credential":  func(d *Device) { d.Username = "1767225600~alice" },
		"colon":           func(d *Device) { d.Username = "a:b" },
		"long username":   func(d *Device) { d.Username = strings.Repeat("a", 81) },
		"control in name": func(d *Device) { d.Name = "desk\nphone" },
		"long name":       func(d *Device) { d.Name = strings.Repeat("n", 65) },
		"no realm":        func(d *Device) { d.Realm = "" },
		"no hash":         func(d *Device) { d.HA1SHA256 = "" },
	} {
		d := ok
		change(&d)
		if err := d.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate() = %v, want ErrInvalid", name, err)
		}
	}
}

// FuzzParseAppCredential: the parser never panics; what it accepts is an
// app credential in canonical form, which it reads back the same; and
// IsAppCredential holds for it.
func FuzzParseAppCredential(f *testing.F) {
	for _, s := range []string{"1767225600~alice", "0~a", "1~", "~", "12345678901234~x", "1767225600~a~b", "1767225600~ali ce", "\x00~\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		acct, exp, err := ParseAppCredential(s)
		if err != nil {
			return
		}
		if !IsAppCredential(s) {
			t.Fatalf("IsAppCredential(%q) = false for a parsed credential", s)
		}
		key := []byte("k")
		if c := IssueAppCredential(key, acct, exp); c.Username != s {
			t.Fatalf("IssueAppCredential(%q, %v).Username = %q, want %q (not canonical)", acct, exp, c.Username, s)
		}
		if a := (Account{Username: acct, Realm: "r", HA1MD5: "x", HA1SHA256: "y", Country: "US", Currency: "USD", Status: AccountActive}); a.Validate() != nil {
			t.Fatalf("account %q of %q is not a valid username: %v", acct, s, a.Validate())
		}
	})
}
