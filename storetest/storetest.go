// Package storetest is the conformance suite every store adapter passes,
// and helpers that give tests a real, isolated database.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// Run checks that the store open returns behaves as dialtone.Store promises.
// open must return a fresh, migrated, empty store.
func Run(t *testing.T, open func(t *testing.T) dialtone.Store) {
	t.Run("Accounts", func(t *testing.T) { testAccounts(t, open(t)) })
	t.Run("CDRRoundTrip", func(t *testing.T) { testCDRRoundTrip(t, open(t)) })
	t.Run("CDRFilter", func(t *testing.T) { testCDRFilter(t, open(t)) })
	t.Run("ConcurrentCDRs", func(t *testing.T) { testConcurrentCDRs(t, open(t)) })
	t.Run("Export", func(t *testing.T) { testExport(t, open(t)) })
	t.Run("ExportJSONL", func(t *testing.T) { testExportJSONL(t, open(t)) })
	t.Run("Ledger", func(t *testing.T) { testLedger(t, open(t)) })
	t.Run("LedgerConcurrency", func(t *testing.T) { testLedgerConcurrency(t, open(t)) })
	t.Run("LedgerAtOnce", func(t *testing.T) { testLedgerAtOnce(t, open(t)) })
	t.Run("Rates", func(t *testing.T) { testRates(t, open(t)) })
	t.Run("Bundles", func(t *testing.T) { testBundles(t, open(t)) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open(t)) })
	t.Run("SessionsConcurrent", func(t *testing.T) { testSessionsConcurrent(t, open(t)) })
	t.Run("OpenReserved", func(t *testing.T) { testOpenReserved(t, open(t)) })
	t.Run("OpenReservedConcurrent", func(t *testing.T) { testOpenReservedConcurrent(t, open(t)) })
	t.Run("WalletHistory", func(t *testing.T) { testWalletHistory(t, open(t)) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, open(t)) })
	runOrgs(t, open)
	runChat(t, open)
	runEnvelopes(t, open)
	runGuard(t, open)
	runLimits(t, open)
	runShared(t, open)
	runDevices(t, open)
	runLeases(t, open)
	t.Run("Ping", func(t *testing.T) {
		if err := open(t).Ping(context.Background()); err != nil {
			t.Errorf("Ping() = %v", err)
		}
	})
}

// NewAccount returns a valid account for tests.
func NewAccount(username string) *dialtone.Account {
	return &dialtone.Account{
		Username: username, Realm: "dialtone",
		HA1MD5: "0123456789abcdef0123456789abcdef", HA1SHA256: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		Country: "US", Currency: "USD", Status: dialtone.AccountActive,
	}
}

func testAccounts(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice := NewAccount("alice")
	if err := st.CreateAccount(ctx, alice); err != nil {
		t.Fatalf("CreateAccount(alice) = %v", err)
	}
	if alice.ID == 0 || alice.CreatedAt.IsZero() {
		t.Errorf("CreateAccount(alice) left ID %d, CreatedAt %v unset", alice.ID, alice.CreatedAt)
	}
	if err := st.CreateAccount(ctx, NewAccount("alice")); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("CreateAccount(alice again) = %v, want %v", err, dialtone.ErrConflict)
	}
	bad := NewAccount("bob")
	bad.Country = "USA"
	if err := st.CreateAccount(ctx, bad); !errors.Is(err, dialtone.ErrInvalid) {
		t.Errorf("CreateAccount(country USA) = %v, want %v", err, dialtone.ErrInvalid)
	}
	if err := st.CreateAccount(ctx, NewAccount("bob")); err != nil {
		t.Fatalf("CreateAccount(bob) = %v", err)
	}

	got, err := st.AccountByUsername(ctx, "alice")
	if err != nil {
		t.Fatalf("AccountByUsername(%q) = %v", "alice", err)
	}
	if got.ID != alice.ID || got.HA1MD5 != alice.HA1MD5 || got.HA1SHA256 != alice.HA1SHA256 || got.Country != "US" ||
		got.Currency != "USD" || got.Status != dialtone.AccountActive || got.Realm != "dialtone" || !got.CreatedAt.Equal(alice.CreatedAt) {
		t.Errorf("AccountByUsername(%q) = %+v, want %+v", "alice", got, alice)
	}
	if _, err := st.AccountByUsername(ctx, "carol"); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("AccountByUsername(%q) = %v, want %v", "carol", err, dialtone.ErrNotFound)
	}

	list, err := st.Accounts(ctx)
	if err != nil || len(list) != 2 || list[0].Username != "alice" || list[1].Username != "bob" {
		t.Errorf("Accounts() = %v, %v, want alice, bob", list, err)
	}

	disabled := dialtone.AccountDisabled
	country := "GB"
	upd, err := st.UpdateAccount(ctx, "alice", dialtone.AccountUpdate{Status: &disabled, Country: &country})
	if err != nil {
		t.Fatalf("UpdateAccount(alice) = %v", err)
	}
	again, _ := st.AccountByUsername(ctx, "alice")
	if upd.Status != disabled || again.Status != disabled || again.Country != "GB" || again.HA1MD5 != alice.HA1MD5 {
		t.Errorf("after UpdateAccount, AccountByUsername(alice) = %+v, want disabled in GB with the same hashes", again)
	}
	if _, err := st.UpdateAccount(ctx, "carol", dialtone.AccountUpdate{Status: &disabled}); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("UpdateAccount(carol) = %v, want %v", err, dialtone.ErrNotFound)
	}
	bogus := dialtone.AccountStatus("gone")
	if _, err := st.UpdateAccount(ctx, "bob", dialtone.AccountUpdate{Status: &bogus}); !errors.Is(err, dialtone.ErrInvalid) {
		t.Errorf("UpdateAccount(bob, status gone) = %v, want %v", err, dialtone.ErrInvalid)
	}

	// The verified caller number: stored, read back by both lookups, kept by
	// other updates, refused unless E.164, cleared with "".
	number := "+12025550142"
	if upd, err := st.UpdateAccount(ctx, "bob", dialtone.AccountUpdate{CallerID: &number}); err != nil || upd.CallerID != number {
		t.Fatalf("UpdateAccount(bob, caller ID %s) = %+v, %v", number, upd, err)
	}
	plan := ""
	if _, err := st.UpdateAccount(ctx, "bob", dialtone.AccountUpdate{RatePlan: &plan}); err != nil {
		t.Fatalf("UpdateAccount(bob, plan) = %v", err)
	}
	bob, err := st.AccountByUsername(ctx, "bob")
	if err != nil || bob.CallerID != number {
		t.Errorf("AccountByUsername(bob) caller ID = %+v, %v, want %s", bob, err, number)
	}
	if byID, err := st.AccountByID(ctx, bob.ID); err != nil || byID.CallerID != number {
		t.Errorf("AccountByID(%d) caller ID = %+v, %v, want %s", bob.ID, byID, err, number)
	}
	for _, bad := range []string{"12025550142", "+0123", "+1202555014212345", "+1 202 555 0142", "+1202555014x"} {
		if _, err := st.UpdateAccount(ctx, "bob", dialtone.AccountUpdate{CallerID: &bad}); !errors.Is(err, dialtone.ErrInvalid) {
			t.Errorf("UpdateAccount(bob, caller ID %q) = %v, want %v", bad, err, dialtone.ErrInvalid)
		}
	}
	withNumber := NewAccount("dave")
	withNumber.CallerID = "+442079460018"
	if err := st.CreateAccount(ctx, withNumber); err != nil {
		t.Fatalf("CreateAccount(dave with caller ID) = %v", err)
	}
	if got, err := st.AccountByUsername(ctx, "dave"); err != nil || got.CallerID != "+442079460018" {
		t.Errorf("AccountByUsername(dave) caller ID = %+v, %v, want +442079460018", got, err)
	}
	none := ""
	if upd, err := st.UpdateAccount(ctx, "bob", dialtone.AccountUpdate{CallerID: &none}); err != nil || upd.CallerID != "" {
		t.Errorf("UpdateAccount(bob, caller ID cleared) = %+v, %v", upd, err)
	}
	if got, _ := st.AccountByUsername(ctx, "bob"); got == nil || got.CallerID != "" {
		t.Errorf("AccountByUsername(bob) after clearing = %+v, want no caller ID", got)
	}
}

// Base is the instant test CDRs are placed around.
var Base = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// NewCDR returns a complete answered CDR of account, ending at end.
func NewCDR(t testing.TB, st dialtone.Store, account string, id string, end time.Time) *dialtone.CDR {
	t.Helper()
	a, err := st.AccountByUsername(context.Background(), account)
	if errors.Is(err, dialtone.ErrNotFound) {
		a = NewAccount(account)
		if err := st.CreateAccount(context.Background(), a); err != nil && !errors.Is(err, dialtone.ErrConflict) {
			t.Fatalf("CreateAccount(%s) = %v", account, err)
		}
		a, err = st.AccountByUsername(context.Background(), account)
	}
	if err != nil {
		t.Fatalf("AccountByUsername(%s) = %v", account, err)
	}
	return &dialtone.CDR{
		ID: id, AppCallID: "app-" + id, CarrierCallID: "carrier-" + id,
		AccountID: a.ID, Account: account, Caller: "+12015550123",
		DialedRaw: "011 44 7400 123456", DialedE164: "+447400123456", Trunk: "carrier1",
		SetupAt: end.Add(-65 * time.Second), RingingAt: end.Add(-64 * time.Second), AnswerAt: end.Add(-60*time.Second + 123456*time.Microsecond),
		EndAt: end, Duration: 59876 * time.Millisecond, BilledSeconds: 60,
		Disposition: dialtone.Answered, SIPCode: 200, SIPReason: "OK", HangupBy: dialtone.PartyCallee,
		AppCodec: "PCMA", CarrierCodec: "PCMA", AppPackets: 3000, AppLost: 2, CarrierPackets: 2990, CarrierLost: 0,
		Currency: "USD", RatePlan: "retail", Prefix: "447", Destination: "United Kingdom - Mobile", NumberType: "mobile",
		SellRate: decimal.RequireFromString("0.05"), Price: decimal.RequireFromString("0.0512"),
		BuyRate: decimal.RequireFromString("0.021"), Cost: decimal.RequireFromString("0.021"), Margin: decimal.RequireFromString("0.0302"),
	}
}

func testCDRRoundTrip(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	c := NewCDR(t, st, "alice", "cdr-1", Base)
	if err := st.InsertCDR(ctx, c); err != nil {
		t.Fatalf("InsertCDR = %v", err)
	}
	failed := NewCDR(t, st, "alice", "cdr-2", Base.Add(time.Second))
	failed.RingingAt, failed.AnswerAt, failed.Duration, failed.BilledSeconds = time.Time{}, time.Time{}, 0, 0
	failed.Disposition, failed.SIPCode, failed.SIPReason, failed.HangupBy = dialtone.Busy, 486, "Busy Here", dialtone.PartyNone
	failed.CarrierCallID, failed.AppCodec = "", ""
	if err := st.InsertCDR(ctx, failed); err != nil {
		t.Fatalf("InsertCDR(failed) = %v", err)
	}
	for _, want := range []*dialtone.CDR{c, failed} {
		got, err := st.CDRByID(ctx, want.ID)
		if err != nil {
			t.Fatalf("CDRByID(%q) = %v", want.ID, err)
		}
		if err := EqualCDR(got, want); err != nil {
			t.Errorf("CDRByID(%q): %v", want.ID, err)
		}
	}
	if err := st.InsertCDR(ctx, c); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("InsertCDR(same id) = %v, want %v", err, dialtone.ErrConflict)
	}
	if _, err := st.CDRByID(ctx, "nope"); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("CDRByID(nope) = %v, want %v", err, dialtone.ErrNotFound)
	}
	if err := st.InsertCDR(ctx, &dialtone.CDR{ID: "x"}); !errors.Is(err, dialtone.ErrInvalid) {
		t.Errorf("InsertCDR(no times) = %v, want %v", err, dialtone.ErrInvalid)
	}
}

// EqualCDR compares every field, times to the microsecond.
func EqualCDR(got, want *dialtone.CDR) error {
	g, w := *got, *want
	for _, p := range []*time.Time{&g.SetupAt, &g.RingingAt, &g.AnswerAt, &g.EndAt, &w.SetupAt, &w.RingingAt, &w.AnswerAt, &w.EndAt} {
		if !p.IsZero() {
			*p = p.UTC().Truncate(time.Microsecond)
		}
	}
	w.Duration = w.Duration.Truncate(time.Millisecond)
	if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", w) {
		return fmt.Errorf("got %+v, want %+v", g, w)
	}
	return nil
}

func testCDRFilter(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	for i := range 6 {
		account, trunk := "alice", "carrier1"
		if i%2 == 1 {
			account = "bob"
		}
		c := NewCDR(t, st, account, fmt.Sprintf("f-%d", i), Base.Add(time.Duration(i)*time.Minute))
		if i >= 4 {
			trunk = "carrier2"
		}
		c.Trunk = trunk
		if err := st.InsertCDR(ctx, c); err != nil {
			t.Fatalf("InsertCDR = %v", err)
		}
	}
	tests := []struct {
		name string
		f    dialtone.CDRFilter
		want []string
	}{
		{"all", dialtone.CDRFilter{From: Base, To: Base.Add(time.Hour)}, []string{"f-0", "f-1", "f-2", "f-3", "f-4", "f-5"}},
		{"half-open range", dialtone.CDRFilter{From: Base.Add(time.Minute), To: Base.Add(3 * time.Minute)}, []string{"f-1", "f-2"}},
		{"account", dialtone.CDRFilter{From: Base, To: Base.Add(time.Hour), Account: "bob"}, []string{"f-1", "f-3", "f-5"}},
		{"trunk", dialtone.CDRFilter{From: Base, To: Base.Add(time.Hour), Trunk: "carrier2"}, []string{"f-4", "f-5"}},
		{"limit", dialtone.CDRFilter{From: Base, To: Base.Add(time.Hour), Limit: 2}, []string{"f-0", "f-1"}},
		{"empty", dialtone.CDRFilter{From: Base.Add(-time.Hour), To: Base}, nil},
	}
	for _, tt := range tests {
		got, err := st.CDRs(ctx, tt.f)
		if err != nil {
			t.Fatalf("CDRs(%s) = %v", tt.name, err)
		}
		var ids []string
		for _, c := range got {
			ids = append(ids, c.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(tt.want) {
			t.Errorf("CDRs(%s) = %v, want %v", tt.name, ids, tt.want)
		}
	}
}

func testConcurrentCDRs(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	const n = 50
	cdrs := make([]*dialtone.CDR, n)
	for i := range n {
		cdrs[i] = NewCDR(t, st, "alice", fmt.Sprintf("c-%02d", i), Base.Add(time.Duration(i)*time.Millisecond))
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, c := range cdrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- st.InsertCDR(ctx, c)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent InsertCDR = %v", err)
		}
	}
	got, err := st.CDRs(ctx, dialtone.CDRFilter{From: Base, To: Base.Add(time.Second)})
	if err != nil || len(got) != n {
		t.Errorf("CDRs after %d concurrent inserts = %d, %v", n, len(got), err)
	}
}

// PostgresURL returns the URL of a fresh, empty schema on the test
// PostgreSQL server (DIALTONE_TEST_POSTGRES, default the local one), dropped
// when the test ends. Without a server the test is skipped, or fails when
// DIALTONE_REQUIRE_ALL=1.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("DIALTONE_TEST_POSTGRES")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		if os.Getenv("DIALTONE_REQUIRE_ALL") == "1" {
			tb.Fatalf("PostgreSQL at %s is required (DIALTONE_REQUIRE_ALL=1): %v", base, err)
		}
		tb.Skipf("SKIPPING: no PostgreSQL at %s (%v); set DIALTONE_TEST_POSTGRES", base, err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "dialtone_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Logf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Logf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("DIALTONE_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
