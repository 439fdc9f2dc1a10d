// Package dialtone is the domain of the switch: the nouns every other
// package shares, the rules that are true whatever stores or serves them,
// and the storage interfaces.
//
// It owns:
//   - accounts (Account), their SIP devices (Device: per-device digest
//     credentials) and the app credentials the API issues and the switch
//     checks from a server secret (AppCredential), and the errors that
//     classify every failure (ErrInvalid, ErrNotFound, ErrForbidden,
//     ErrNoRoute, ...), which the call controller maps to SIP responses and
//     the HTTP API to statuses;
//   - call detail records (CDR, CDRFilter, ParseCDRFilter) and their export
//     formats (ExportFormat, ExportColumns), written by the CLI and the API;
//   - the number types (NumberType, NumberTypes): the one list that package
//     trunks classifies into and decks, bundles and routes name;
//   - money: exact amounts (decimal in memory, micro-units in storage), the
//     one text of an amount for people and API clients (Amount,
//     FormatMoney), the double-entry ledger (Movement, and Transfer, the
//     checked request for a two-posting movement), its account names, and
//     a wallet's history with each call folded into one line (FoldWallet,
//     HistoryStore);
//   - rates and bundles: rate decks, bundle products and holdings, and the
//     one bundle purchase (BundlePurchase.Plan builds the holding and the
//     payment; BuyBundle makes both in one store transaction) that the CLI
//     and the API share;
//   - call sessions (credit reserved, confirmed and settled per call), API
//     sign-in tokens, red envelopes, chat, and organizations;
//   - per-account limits (Limits, with the defaults and the one check of
//     a call against them, and LimitStore, which keeps each account's own);
//   - the SIP guard's bans (Ban) and the digest nonce counts, kept in the
//     store so that they survive a restart and are shared by nodes;
//   - Store and its parts (AccountStore, LedgerStore, BundleStore, ...):
//     the interfaces the storage adapters (sqlite, postgres) implement and
//     one conformance suite (package storetest) checks.
//
// It depends only on the standard library, shopspring/decimal and
// golang.org/x/text/currency (ISO 4217 minor units, see Amount). Logic
// packages (switch/..., media/..., billing, trunks, companion) and storage
// adapters import it; it imports none of them.
//
// Concurrency: the types here are plain values with no locks; a value
// shared between goroutines must not be changed. Functions are pure, save
// BuyBundle, which is as safe as the store it is given. Store
// implementations are safe for concurrent use, and every operation they
// offer that moves money is one transaction, idempotent by its key.
package dialtone

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/shopspring/decimal"
)

// Sentinel errors. Adapters wrap them with detail; callers match with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
	ErrInvalid  = errors.New("invalid")
)

// Call outcome errors. Any package may wrap these; the call controller maps
// them to SIP responses in one table (switch/b2bua), the HTTP API to statuses.
var (
	ErrForbidden     = errors.New("forbidden")               // account disabled, destination blocked
	ErrInvalidNumber = errors.New("invalid number")          // cannot be normalized to E.164
	ErrNoRoute       = errors.New("no route")                // no trunk serves the number
	ErrNoCodec       = errors.New("no common codec")         // offer and our codecs do not meet
	ErrUnavailable   = errors.New("temporarily unavailable") // out of ports, draining, overloaded

	// ErrBlocked: the destination is in a range the switch does not call
	// (premium rate, known fraud ranges); ErrCallerID: the app presented
	// a number that is not its account's. Both are refusals (ErrForbidden).
	ErrBlocked  = fmt.Errorf("destination blocked: %w", ErrForbidden)
	ErrCallerID = fmt.Errorf("caller ID not allowed: %w", ErrForbidden)
)

// Why a call's media ended before either party's BYE. The media packages
// wrap them; the call controller reads them to tell who ended the call.
var (
	ErrMediaTimeout = errors.New("media timeout: no RTP")
	// ErrMediaClosed: the app closed its media itself, as a WebRTC app does
	// (DTLS close_notify) when it hangs up, just before its BYE.
	ErrMediaClosed = errors.New("app closed its media")
)

// AccountStatus says whether an account may register and place calls.
type AccountStatus string

const (
	AccountActive   AccountStatus = "active"
	AccountDisabled AccountStatus = "disabled"
)

// Account is an app user: the country used to normalize the numbers they
// dial, and the currency they pay in.
//
// The account's digest hashes (HA1MD5, HA1SHA256) are no longer what the
// switch checks: SIP signs in with a Device's credentials or with app
// credentials (AppCredential) issued by the companion API, whose own
// password (bcrypt) is kept apart (TokenStore). The hashes stay as the
// account was made, of a password that no longer signs in anywhere.
type Account struct {
	ID        int64
	Username  string
	Realm     string
	HA1MD5    string // hex MD5(username:realm:password)
	HA1SHA256 string // hex SHA-256(username:realm:password)
	Country   string // ISO 3166-1 alpha-2, e.g. "US"
	Currency  string // ISO 4217, e.g. "USD"
	RatePlan  string // sell plan that prices this account's calls; empty: calls are not billed
	// CallerID is the account's verified number in E.164 ("+12025550142"),
	// set by an operator: the only number the account may present, and
	// what carriers are told unless a trunk fixes its own. Empty: none.
	CallerID  string
	Status    AccountStatus
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Validate reports the first problem with a, naming the field.
func (a *Account) Validate() error {
	switch {
	case a.Username == "":
		return fmt.Errorf("%w account: username is empty", ErrInvalid)
	case len(a.Username) > 64:
		return fmt.Errorf("%w account: username is longer than 64 characters", ErrInvalid)
	case a.Realm == "":
		return fmt.Errorf("%w account %q: realm is empty", ErrInvalid, a.Username)
	case a.HA1MD5 == "" || a.HA1SHA256 == "":
		return fmt.Errorf("%w account %q: digest hashes are empty", ErrInvalid, a.Username)
	case len(a.Country) != 2:
		return fmt.Errorf("%w account %q: country %q is not an ISO 3166 alpha-2 code", ErrInvalid, a.Username, a.Country)
	case len(a.Currency) != 3:
		return fmt.Errorf("%w account %q: currency %q is not an ISO 4217 code", ErrInvalid, a.Username, a.Currency)
	case a.Status != AccountActive && a.Status != AccountDisabled:
		return fmt.Errorf("%w account %q: status %q is not active or disabled", ErrInvalid, a.Username, a.Status)
	case a.CallerID != "" && !IsE164(a.CallerID):
		return fmt.Errorf("%w account %q: caller ID %q is not an E.164 number such as +12025550142", ErrInvalid, a.Username, a.CallerID)
	}
	for _, r := range a.Username {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%w account: username %q may hold only letters, digits, '.', '_' and '-'", ErrInvalid, a.Username)
		}
	}
	return nil
}

// AccountUpdate changes some fields of an account; nil fields stay as they are.
type AccountUpdate struct {
	Status    *AccountStatus
	Realm     *string
	HA1MD5    *string
	HA1SHA256 *string
	Country   *string
	Currency  *string
	RatePlan  *string
	CallerID  *string // "" clears it
}

// ApplyTo sets the fields of a that u names.
func (u AccountUpdate) ApplyTo(a *Account) {
	if u.Status != nil {
		a.Status = *u.Status
	}
	if u.Realm != nil {
		a.Realm = *u.Realm
	}
	if u.HA1MD5 != nil {
		a.HA1MD5 = *u.HA1MD5
	}
	if u.HA1SHA256 != nil {
		a.HA1SHA256 = *u.HA1SHA256
	}
	if u.Country != nil {
		a.Country = *u.Country
	}
	if u.Currency != nil {
		a.Currency = *u.Currency
	}
	if u.RatePlan != nil {
		a.RatePlan = *u.RatePlan
	}
	if u.CallerID != nil {
		a.CallerID = *u.CallerID
	}
}

// AccountStore keeps accounts.
type AccountStore interface {
	// CreateAccount inserts a and sets its ID and timestamps.
	// It fails with ErrConflict when the username is taken.
	CreateAccount(ctx context.Context, a *Account) error
	// AccountByUsername fails with ErrNotFound when there is no such account.
	AccountByUsername(ctx context.Context, username string) (*Account, error)
	// AccountByID fails with ErrNotFound when there is no such account.
	AccountByID(ctx context.Context, id int64) (*Account, error)
	// Accounts lists accounts ordered by username.
	Accounts(ctx context.Context) ([]*Account, error)
	// UpdateAccount applies upd and returns the account as stored.
	UpdateAccount(ctx context.Context, username string, upd AccountUpdate) (*Account, error)
}

// Disposition is the outcome of a call attempt, as finance reads it.
type Disposition string

const (
	Answered  Disposition = "ANSWERED"
	NoAnswer  Disposition = "NO ANSWER"
	Busy      Disposition = "BUSY"
	Failed    Disposition = "FAILED"
	Cancelled Disposition = "CANCELLED"
)

// Party names who ended a call.
type Party string

const (
	PartyCaller Party = "caller" // the app user
	PartyCallee Party = "callee" // the carrier / far end
	PartySwitch Party = "switch" // media timeout, shutdown, credit
	PartyNone   Party = ""       // the call never connected
)

// CDR is the record of one call attempt, written once when it ends.
// Times are UTC; a zero time means the call never reached that point.
type CDR struct {
	ID            string // ours, a UUID
	AppCallID     string // SIP Call-ID of the app leg
	CarrierCallID string // SIP Call-ID of the carrier leg; empty if never sent
	AccountID     int64
	Account       string // username
	Caller        string // caller id presented (From user)
	DialedRaw     string // as typed
	DialedE164    string // normalized, "+..."; empty if invalid
	Trunk         string // carrier trunk used; empty if none
	Attempts      string // every carrier tried and its answer, e.g. "a=503;b=timeout;c=200"; skipped ones as "b=skipped:down"

	SetupAt   time.Time // INVITE received
	RingingAt time.Time // first 180/183
	AnswerAt  time.Time // 200 OK from the carrier
	EndAt     time.Time // final response or BYE

	Duration      time.Duration // AnswerAt to EndAt; zero when not answered
	BilledSeconds int64         // whole seconds charged, rounded up from Duration

	Disposition Disposition
	SIPCode     int    // final SIP status sent to the app (200 when answered)
	SIPReason   string // its reason phrase
	HangupBy    Party

	AppCodec     string // e.g. "PCMU"
	CarrierCodec string

	// Media statistics, per leg, as seen by the relay.
	AppPackets     int64
	AppLost        int64
	CarrierPackets int64
	CarrierLost    int64

	// Money, filled when the call was rated (see package billing).
	Currency      string
	RatePlan      string          // the account's sell plan
	Prefix        string          // matched prefix of the sell deck
	Destination   string          // its destination name
	NumberType    string          // mobile, fixed, ...
	SellRate      decimal.Decimal // per minute
	Price         decimal.Decimal // wallet money charged
	BundleSeconds int64           // seconds paid by bundles
	BuyRate       decimal.Decimal // the carrier's rate per minute
	Cost          decimal.Decimal // what the carrier charges us for the call
	Margin        decimal.Decimal // Price minus Cost (bundle revenue is booked when the bundle is sold)
	PaidBy        string          // ledger account that paid: the user's wallet, or an organization's
}

// CDRFilter selects CDRs by EndAt in [From, To) and optionally by account and trunk.
type CDRFilter struct {
	From, To time.Time
	Account  string
	Trunk    string
	Limit    int // 0 means no limit
}

// CDRStore keeps call detail records. A CDR is written once and never changed.
type CDRStore interface {
	// InsertCDR stores c durably: once it returns nil the record survives a
	// crash of the process. A second insert of the same ID fails with ErrConflict.
	InsertCDR(ctx context.Context, c *CDR) error
	// CDRByID fails with ErrNotFound when there is no such record.
	CDRByID(ctx context.Context, id string) (*CDR, error)
	// CDRs returns the records matching f, ordered by EndAt then ID.
	CDRs(ctx context.Context, f CDRFilter) ([]*CDR, error)
	// EachCDR calls fn for each record matching f, in the order of CDRs,
	// streaming: memory does not grow with the number of records.
	EachCDR(ctx context.Context, f CDRFilter, fn func(*CDR) error) error
	// ExportCDRs streams the records matching f to w in format (see
	// ExportColumns) and returns how many it wrote.
	ExportCDRs(ctx context.Context, f CDRFilter, format ExportFormat, w io.Writer) (int64, error)
}

// Store is everything the switch keeps.
type Store interface {
	AccountStore
	CDRStore
	LedgerStore
	HistoryStore
	RateStore
	BundleStore
	SessionStore
	LeaseStore
	TokenStore
	EnvelopeStore
	ChatStore
	OrgStore
	BanStore
	BanFeed
	NonceStore
	LimitStore
	DeviceStore
	SecretStore
	SlotStore
	RegistrationStore
	// Ping reports whether the store answers; used by /readyz.
	Ping(ctx context.Context) error
	Close() error
}
