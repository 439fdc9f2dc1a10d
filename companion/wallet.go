package companion

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dialtone/dialtone"
)

// wallet: GET /api/v1/wallet
func (s *Server) wallet(w http.ResponseWriter, r *http.Request, c *caller) {
	ctx := r.Context()
	bal, err1 := s.store.Balance(ctx, dialtone.WalletAccount(c.account.ID))
	hold, err2 := s.store.Balance(ctx, dialtone.HoldAccount(c.account.ID))
	hs, err3 := s.store.Holdings(ctx, c.account.ID, s.now())
	if err := errors.Join(err1, err2, err3); err != nil {
		s.fail(w, err)
		return
	}
	type bundle struct {
		Bundle      string `json:"bundle"`
		SecondsLeft int64  `json:"seconds_left"`
		ExpiresAt   string `json:"expires_at"`
	}
	out := struct {
		Currency string   `json:"currency"`
		Balance  string   `json:"balance"`
		OnHold   string   `json:"on_hold"`
		Bundles  []bundle `json:"bundles"`
	}{Currency: c.account.Currency, Balance: dialtone.Amount(bal, c.account.Currency), OnHold: dialtone.Amount(hold, c.account.Currency), Bundles: []bundle{}}
	for _, h := range hs {
		out.Bundles = append(out.Bundles, bundle{h.Bundle, h.SecondsLeft, h.ExpiresAt.UTC().Format(time.RFC3339)})
	}
	writeJSON(w, http.StatusOK, out)
}

// history: GET /api/v1/wallet/history?limit=&cursor=
//
// One item per top-up, transfer, bundle... and one per call, its credit
// reservations folded in (see dialtone.HistoryStore).
func (s *Server) history(w http.ResponseWriter, r *http.Request, c *caller) {
	limit, before, ok := page(w, r)
	if !ok {
		return
	}
	items, err := s.store.WalletHistory(r.Context(), c.account.ID, before, limit+1)
	if err != nil {
		s.fail(w, err)
		return
	}
	cur := c.account.Currency
	type call struct {
		ID              string `json:"id"`
		Number          string `json:"number"`
		State           string `json:"state"`
		Disposition     string `json:"disposition,omitempty"`
		DurationSeconds int64  `json:"duration_seconds"`
		BilledSeconds   int64  `json:"billed_seconds"`
		Charge          string `json:"charge"`
	}
	type entry struct {
		ID       int64  `json:"id"`
		Kind     string `json:"kind"`
		Amount   string `json:"amount"`
		Balance  string `json:"balance"`
		Currency string `json:"currency"`
		Memo     string `json:"memo"`
		At       string `json:"at"`
		Call     *call  `json:"call,omitempty"`
	}
	out := struct {
		Items      []entry `json:"items"`
		NextCursor string  `json:"next_cursor,omitempty"`
	}{Items: []entry{}}
	for i, it := range items {
		if i == limit {
			out.NextCursor = strconv.FormatInt(items[limit-1].ID, 10)
			break
		}
		e := entry{it.ID, it.Kind, dialtone.Amount(it.Amount, cur), dialtone.Amount(it.Balance, cur), cur, it.Memo, it.At.UTC().Format(time.RFC3339), nil}
		if cl := it.Call; cl != nil {
			e.Call = &call{cl.ID, cl.Dialed, string(cl.State), string(cl.Disposition), int64((cl.Duration + time.Second - 1) / time.Second),
				cl.BilledSeconds, dialtone.Amount(cl.Charge, cur)}
		}
		out.Items = append(out.Items, e)
	}
	writeJSON(w, http.StatusOK, out)
}

// page reads ?limit= (see pageLimit) and ?cursor= (opaque, from next_cursor).
func page(w http.ResponseWriter, r *http.Request) (limit int, cursor int64, ok bool) {
	if limit, ok = pageLimit(w, r); !ok {
		return 0, 0, false
	}
	if s := r.URL.Query().Get("cursor"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, "invalid_query", "cursor is not one this API gave")
			return 0, 0, false
		}
		cursor = n
	}
	return limit, cursor, true
}

// pageLimit reads ?limit= (1-100, default 50).
func pageLimit(w http.ResponseWriter, r *http.Request) (int, bool) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 50, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 100 {
		writeError(w, http.StatusBadRequest, "invalid_query", "limit must be 1 to 100")
		return 0, false
	}
	return n, true
}

// idempotencyKey is the request's Idempotency-Key header: required for
// every movement of money, 8 to 100 printable characters.
func idempotencyKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	k := r.Header.Get("Idempotency-Key")
	if len(k) < 8 || len(k) > 100 || strings.ContainsFunc(k, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		writeError(w, http.StatusBadRequest, "idempotency_key_required", "send an Idempotency-Key header of 8 to 100 printable characters; a retry with the same key moves money once")
		return "", false
	}
	return k, true
}

// transfer: POST /api/v1/wallet/transfers {"to": "bob", "amount": "1.50", "memo": "..."}
func (s *Server) transfer(w http.ResponseWriter, r *http.Request, c *caller) {
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var in struct {
		To     string `json:"to"`
		Amount string `json:"amount"`
		Memo   string `json:"memo"`
	}
	if !decode(w, r, &in) {
		return
	}
	amt, err := amount(in.Amount, c.account.Currency)
	if err != nil {
		s.fail(w, err)
		return
	}
	if len(in.Memo) > 200 {
		writeError(w, http.StatusBadRequest, "invalid", "memo is longer than 200 characters")
		return
	}
	to, err := s.store.AccountByUsername(r.Context(), in.To)
	if errors.Is(err, dialtone.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no user %q", in.To))
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	switch {
	case to.ID == c.account.ID:
		writeError(w, http.StatusBadRequest, "invalid", "cannot transfer to yourself")
		return
	case to.Currency != c.account.Currency:
		writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("%s's wallet is in %s, yours in %s", to.Username, to.Currency, c.account.Currency))
		return
	case to.Status != dialtone.AccountActive:
		writeError(w, http.StatusBadRequest, "invalid", to.Username+" cannot receive money")
		return
	}
	m, err := dialtone.Transfer{Key: fmt.Sprintf("transfer:%d:%s", c.account.ID, key), Kind: "transfer", Currency: c.account.Currency,
		Memo: strings.TrimSpace(c.account.Username + " to " + to.Username + ": " + in.Memo),
		From: dialtone.WalletAccount(c.account.ID), To: dialtone.WalletAccount(to.ID), Amount: amt}.Movement()
	if err != nil {
		s.fail(w, err)
		return
	}
	replayed, err := s.store.Post(r.Context(), m)
	if err != nil {
		s.fail(w, err)
		return
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{"id": m.ID, "to": to.Username, "amount": dialtone.Amount(amt, m.Currency), "currency": m.Currency, "replayed": replayed})
}

// buyBundle: POST /api/v1/wallet/bundles {"code": "world100"}
func (s *Server) buyBundle(w http.ResponseWriter, r *http.Request, c *caller) {
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var in struct {
		Code string `json:"code"`
	}
	if !decode(w, r, &in) {
		return
	}
	b, err := dialtone.FindBundle(s.cfg.Bundles, in.Code)
	if err != nil {
		s.fail(w, err)
		return
	}
	h, replayed, err := dialtone.BuyBundle(r.Context(), s.store, dialtone.BundlePurchase{Account: c.account, Bundle: b, Key: key, At: s.now()})
	if err != nil {
		s.fail(w, err)
		return
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{"bundle": b.Code, "seconds": b.Seconds, "price": dialtone.Amount(b.Price, c.account.Currency), "currency": c.account.Currency,
		"expires_at": h.ExpiresAt.UTC().Format(time.RFC3339), "replayed": replayed})
}

// paymentWebhook: POST /api/v1/webhooks/payments, from the payment provider.
// The body is signed: X-Signature is hex HMAC-SHA256 of the raw body with
// the shared secret. The provider's payment id makes it idempotent: the
// same payment delivered again credits nothing more.
func (s *Server) paymentWebhook(w http.ResponseWriter, r *http.Request) {
	if s.cfg.WebhookSecret == "" {
		writeError(w, http.StatusNotFound, "not_found", "payment webhooks are not configured")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "the body is too large")
		return
	}
	mac := hmac.New(sha256.New, []byte(s.cfg.WebhookSecret))
	mac.Write(body)
	got, err := hex.DecodeString(r.Header.Get("X-Signature"))
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		writeError(w, http.StatusUnauthorized, "bad_signature", "X-Signature does not match the body")
		return
	}
	var in struct {
		PaymentID string `json:"payment_id"`
		Username  string `json:"username"`
		Amount    string `json:"amount"`
		Currency  string `json:"currency"`
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	if !decode(w, r, &in) {
		return
	}
	if in.PaymentID == "" || len(in.PaymentID) > 100 {
		writeError(w, http.StatusBadRequest, "invalid", "payment_id must be 1 to 100 characters")
		return
	}
	amt, err := amount(in.Amount, in.Currency)
	if err != nil {
		s.fail(w, err)
		return
	}
	a, err := s.store.AccountByUsername(r.Context(), in.Username)
	if err != nil {
		s.fail(w, err)
		return
	}
	if a.Currency != in.Currency {
		writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("payment in %s for a wallet in %s", in.Currency, a.Currency))
		return
	}
	m, err := dialtone.Transfer{Key: "payment:" + in.PaymentID, Kind: "topup", Currency: a.Currency, Memo: "payment " + in.PaymentID,
		From: dialtone.FundingAccount(a.Currency), To: dialtone.WalletAccount(a.ID), Amount: amt}.Movement()
	if err != nil {
		s.fail(w, err)
		return
	}
	replayed, err := s.store.Post(r.Context(), m)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"payment_id": in.PaymentID, "credited": !replayed})
}
