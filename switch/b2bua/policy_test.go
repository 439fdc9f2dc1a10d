package b2bua

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/dialtone/dialtone"
)

// policyError is a refusal of the Router's that says why in a Warning.
type policyError struct {
	err  error
	text string
}

func (e policyError) Error() string   { return e.text }
func (e policyError) Unwrap() error   { return e.err }
func (e policyError) Warning() string { return e.text }

// A destination or caller the Router refuses ends the call with 403, a
// reason the app can show and a Warning naming the rule; no carrier is tried.
func TestPolicyRefusal(t *testing.T) {
	for _, tt := range []struct {
		err    error
		reason string
	}{
		{policyError{dialtone.ErrBlocked, `destination blocked: prefix +882`}, "Forbidden: destination blocked"},
		{policyError{dialtone.ErrCallerID, `caller ID "not" allowed`}, "Forbidden: caller ID not allowed"},
	} {
		t.Run(tt.reason, func(t *testing.T) {
			h := newHarness(t, nil, trunk("t1"))
			h.router.err = tt.err
			tc := h.dial("8821612345678", "PCMA")
			tc.setupDone()
			tc.ended()
			checkEvents(t, "app", tc.app.Events(), "403")
			checkCDR(t, h.cdr(), dialtone.Failed, 403, dialtone.PartyNone, 0)
			if len(h.legs.carriers) != 0 {
				t.Error("a refused call reached a carrier")
			}
			tc.app.mu.Lock()
			res := tc.app.rejected
			tc.app.mu.Unlock()
			if res.Reason != tt.reason {
				t.Errorf("reason %q, want %q", res.Reason, tt.reason)
			}
			want := fmt.Sprintf(`399 switch.test %q`, strings.ReplaceAll(tt.err.Error(), `"`, "'"))
			if w := res.GetHeader("Warning"); w == nil || w.Value() != want {
				t.Errorf("Warning = %v, want %s", w, want)
			}
		})
	}
}

// The carrier sees the caller ID the Router chose for its trunk, and an
// anonymous From without P-Asserted-Identity when there is none; the
// Router is given the app's From user to judge.
func TestCarrierCallerID(t *testing.T) {
	for _, tt := range []struct {
		name       string
		callerID   string
		pai        bool
		privacy    bool
		from, want string // From user, P-Asserted-Identity ("" none)
		privacyHdr bool
	}{
		{"verified number", "+12025550142", true, false, "+12025550142", "<sip:+12025550142@switch.test>", false},
		{"number without pai", "+12025550142", false, false, "+12025550142", "", false},
		{"no number", "", true, false, "anonymous", "", false},
		{"privacy", "12025550100", false, true, "anonymous", "<sip:12025550100@switch.test>", true},
		{"privacy without number", "", false, true, "anonymous", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t1 := trunk("t1")
			t1.CallerID, t1.PAI, t1.Privacy = tt.callerID, tt.pai, tt.privacy
			h := newHarness(t, nil, t1)
			tc := h.dial("442079460018", "PCMA")
			k := h.legs.next(t)
			if got := k.inv.From().Address.User; got != tt.from {
				t.Errorf("carrier From user %q, want %q", got, tt.from)
			}
			if tt.from == "anonymous" && k.inv.From().Address.Host != "anonymous.invalid" {
				t.Errorf("anonymous From host %q, want anonymous.invalid", k.inv.From().Address.Host)
			}
			pai := ""
			if h := k.inv.GetHeader("P-Asserted-Identity"); h != nil {
				pai = h.Value()
			}
			if pai != tt.want {
				t.Errorf("P-Asserted-Identity %q, want %q", pai, tt.want)
			}
			if got := k.inv.GetHeader("Privacy") != nil; got != tt.privacyHdr {
				t.Errorf("Privacy header present %v, want %v", got, tt.privacyHdr)
			}
			k.respond(486, "Busy Here", "")
			tc.setupDone()
			tc.ended()
			h.router.mu.Lock()
			routed := h.router.routed
			h.router.mu.Unlock()
			if len(routed) != 1 || routed[0] != "442079460018 from alice" {
				t.Errorf("routed %q, want the dialed number from the app's From user alice", routed)
			}
		})
	}
}

func TestDialed(t *testing.T) {
	tests := []struct{ uri, want string }{
		{"sip:+442079460018@switch.test", "+442079460018"},
		{"sip:%2B8821612345678@switch.test;user=phone", "%2B8821612345678"},
		{"sip:+882-16-1234-5678@switch.test", "+882-16-1234-5678"},
		{"tel:+8821612345678", "tel:+8821612345678"},
		{"TEL:+882-16-1234-5678;phone-context=+882", "tel:+882-16-1234-5678;phone-context=+882"},
	}
	for _, tt := range tests {
		var u sip.Uri
		if err := sip.ParseUri(tt.uri, &u); err != nil {
			t.Fatalf("ParseUri(%q) = %v", tt.uri, err)
		}
		if got := dialed(sip.NewRequest(sip.INVITE, u)); got != tt.want {
			t.Errorf("dialed(%q) = %q, want %q", tt.uri, got, tt.want)
		}
	}
}
