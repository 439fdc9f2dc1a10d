package b2bua

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dialtone/dialtone"
)

func TestCarrierOutcome(t *testing.T) {
	tests := []struct {
		code        int
		disposition dialtone.Disposition
		appCode     int
		failover    bool
	}{
		{408, dialtone.Failed, 408, true},
		{500, dialtone.Failed, 503, true},
		{502, dialtone.Failed, 503, true},
		{503, dialtone.Failed, 503, true},
		{504, dialtone.Failed, 503, true},
		{580, dialtone.Failed, 503, true},
		{480, dialtone.NoAnswer, 480, false},
		{486, dialtone.Busy, 486, false},
		{600, dialtone.Busy, 600, false},
		{487, dialtone.Cancelled, 487, false},
		{404, dialtone.Failed, 404, false},
		{403, dialtone.Failed, 403, false},
		{484, dialtone.Failed, 484, false},
		{603, dialtone.Failed, 603, false},
		{488, dialtone.Failed, 488, false},
		{302, dialtone.Failed, 500, false},
	}
	for _, tt := range tests {
		o, failover := carrierOutcome(tt.code, "")
		if o.disposition != tt.disposition || o.code != tt.appCode || failover != tt.failover || o.reason == "" {
			t.Errorf("carrierOutcome(%d) = %s %d %q failover %v, want %s %d failover %v",
				tt.code, o.disposition, o.code, o.reason, failover, tt.disposition, tt.appCode, tt.failover)
		}
	}
}

func TestErrorOutcome(t *testing.T) {
	tests := []struct {
		err  error
		code int
	}{
		{fmt.Errorf("normalize %q: %w", "12", dialtone.ErrInvalidNumber), 484},
		{fmt.Errorf("route: %w", dialtone.ErrNoRoute), 404},
		{fmt.Errorf("premium: %w", dialtone.ErrForbidden), 403},
		{fmt.Errorf("route: %w", dialtone.ErrBlocked), 403},
		{fmt.Errorf("caller: %w", dialtone.ErrCallerID), 403},
		{fmt.Errorf("offer: %w", dialtone.ErrNoCodec), 488},
		{fmt.Errorf("ports: %w", dialtone.ErrUnavailable), 503},
		{fmt.Errorf("authorize: %w", dialtone.ErrInsufficientFunds), 402},
		{fmt.Errorf("authorize: %w", dialtone.ErrNoRate), 403},
		{fmt.Errorf("authorize: %w", dialtone.ErrNoPlan), 403},
		{fmt.Errorf("limits: %w", &dialtone.LimitError{Limit: dialtone.LimitSpendDay, Detail: "30 a day"}), 403},
		{errors.New("disk on fire"), 500},
	}
	for _, tt := range tests {
		if o := errorOutcome(tt.err); o.code != tt.code || o.reason == "" {
			t.Errorf("errorOutcome(%v) = %d %q, want %d", tt.err, o.code, o.reason, tt.code)
		}
	}
}
