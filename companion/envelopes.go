package companion

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// envelopeNamespace names envelope ids (UUID version 5, RFC 9562).
var envelopeNamespace = uuid.MustParse("5b2c1f0e-3d5a-4c8e-9f2a-6d7e8f901234")

// createEnvelope: POST /api/v1/envelopes
// {"to": ["bob", "carol"], "total": "1.00", "count": 3, "mode": "lucky", "memo": "..."}
func (s *Server) createEnvelope(w http.ResponseWriter, r *http.Request, c *caller) {
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var in struct {
		To           []string `json:"to"`
		Conversation int64    `json:"conversation"` // or a group conversation: its other members
		Total        string   `json:"total"`
		Count        int      `json:"count"`
		Mode         string   `json:"mode"`
		Memo         string   `json:"memo"`
	}
	if !decode(w, r, &in) {
		return
	}
	total, err := amount(in.Total, c.account.Currency)
	if err != nil {
		s.fail(w, err)
		return
	}
	if in.Conversation != 0 {
		conv, err := s.store.Conversation(r.Context(), in.Conversation)
		if err != nil || !slices.Contains(conv.Members, c.account.ID) || len(in.To) > 0 {
			writeError(w, http.StatusBadRequest, "invalid", "conversation must be one of yours, and not given with to")
			return
		}
		for _, m := range conv.Members {
			if m == c.account.ID {
				continue
			}
			a, err := s.store.AccountByID(r.Context(), m)
			if err != nil {
				s.fail(w, err)
				return
			}
			in.To = append(in.To, a.Username)
		}
	}
	if len(in.To) == 0 || len(in.To) > 500 || len(in.Memo) > 200 {
		writeError(w, http.StatusBadRequest, "invalid", "to needs 1 to 500 users (or a conversation with others in it) and memo at most 200 characters")
		return
	}
	var shares []decimal.Decimal
	switch in.Mode {
	case "equal":
		shares, err = SplitEqual(total, in.Count, c.account.Currency)
	case "lucky", "":
		in.Mode = "lucky"
		shares, err = SplitLucky(total, in.Count, c.account.Currency, rand.Float64)
	default:
		err = fmt.Errorf("%w mode %q: want equal or lucky", dialtone.ErrInvalid, in.Mode)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	var recipients []int64
	for _, name := range in.To {
		a, err := s.store.AccountByUsername(r.Context(), name)
		if errors.Is(err, dialtone.ErrNotFound) {
			writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no user %q", name))
			return
		}
		if err != nil {
			s.fail(w, err)
			return
		}
		if a.Currency != c.account.Currency {
			writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("%s's wallet is in %s, yours in %s", a.Username, a.Currency, c.account.Currency))
			return
		}
		if !slices.Contains(recipients, a.ID) {
			recipients = append(recipients, a.ID)
		}
	}
	now := s.now()
	// The id follows from the sender and the key, so a retry names the same
	// envelope and its movement is a replay.
	envID := uuid.NewSHA1(envelopeNamespace, fmt.Appendf(nil, "%d:%s", c.account.ID, key)).String()
	e := &dialtone.Envelope{ID: envID, SenderID: c.account.ID, Currency: c.account.Currency, Total: total, Count: in.Count,
		Mode: in.Mode, Recipients: recipients, Memo: in.Memo, CreatedAt: now, ExpiresAt: now.Add(s.cfg.EnvelopeTTL)}
	fund, err := dialtone.Transfer{Key: fmt.Sprintf("envelope:%d:%s", c.account.ID, key), Kind: "envelope", Currency: e.Currency,
		Memo: "red envelope", From: dialtone.WalletAccount(c.account.ID), To: dialtone.EnvelopeAccount(e.ID), Amount: total}.Movement()
	if err != nil {
		s.fail(w, err)
		return
	}
	replayed, err := s.store.CreateEnvelope(r.Context(), e, shares, fund)
	if err != nil {
		if errors.Is(err, dialtone.ErrConflict) {
			// The key was used for another envelope: its movement named another account.
			writeError(w, http.StatusConflict, "conflict", "this Idempotency-Key was used for another request")
			return
		}
		s.fail(w, err)
		return
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{"id": e.ID, "total": dialtone.Amount(total, c.account.Currency), "currency": c.account.Currency, "count": in.Count, "mode": in.Mode,
		"expires_at": e.ExpiresAt.UTC().Format(time.RFC3339), "replayed": replayed})
}

// grabEnvelope: POST /api/v1/envelopes/{id}/grab
func (s *Server) grabEnvelope(w http.ResponseWriter, r *http.Request, c *caller) {
	g, err := s.store.GrabEnvelope(r.Context(), r.PathValue("id"), c.account.ID, s.now())
	switch {
	case errors.Is(err, dialtone.ErrForbidden), errors.Is(err, dialtone.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no such envelope for you") // never tell outsiders it exists
	case errors.Is(err, dialtone.ErrConflict):
		writeError(w, http.StatusConflict, "grabbed_already", "you have grabbed this envelope already")
	case errors.Is(err, dialtone.ErrExhausted):
		writeError(w, http.StatusGone, "empty", "nothing left in this envelope")
	case err != nil:
		s.fail(w, err)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"amount": dialtone.Amount(g.Amount, c.account.Currency), "currency": c.account.Currency, "share": g.N})
	}
}

// envelope: GET /api/v1/envelopes/{id}, for its sender and recipients.
func (s *Server) envelope(w http.ResponseWriter, r *http.Request, c *caller) {
	e, gs, err := s.store.Envelope(r.Context(), r.PathValue("id"))
	if err == nil && e.SenderID != c.account.ID && !slices.Contains(e.Recipients, c.account.ID) {
		err = dialtone.ErrNotFound
	}
	if errors.Is(err, dialtone.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no such envelope for you")
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	type grab struct {
		Share   int    `json:"share"`
		Amount  string `json:"amount"`
		Grabbed bool   `json:"grabbed"`
		Mine    bool   `json:"mine"`
	}
	out := map[string]any{"id": e.ID, "total": dialtone.Amount(e.Total, e.Currency), "currency": e.Currency, "count": e.Count, "mode": e.Mode, "memo": e.Memo,
		"expires_at": e.ExpiresAt.UTC().Format(time.RFC3339), "refunded": dialtone.Amount(e.Refunded, e.Currency)}
	var grabs []grab
	for _, g := range gs {
		if g.AccountID == 0 && e.SenderID != c.account.ID {
			continue // recipients see what was grabbed, not what is left
		}
		grabs = append(grabs, grab{g.N, dialtone.Amount(g.Amount, e.Currency), g.AccountID != 0, g.AccountID == c.account.ID})
	}
	out["grabs"] = grabs
	writeJSON(w, http.StatusOK, out)
}

// ExpireEnvelopes refunds the unclaimed money of expired envelopes to their
// senders; run it periodically. Runs that overlap refund each once.
func (s *Server) ExpireEnvelopes(ctx context.Context) (int, error) {
	ids, err := s.store.ExpireEnvelopes(ctx, s.now())
	return len(ids), err
}
