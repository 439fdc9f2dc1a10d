package companion

import (
	"net/http"

	"github.com/dialtone/dialtone"
)

// RoleOperator may read and set accounts' limits (/api/v1/accounts/{username}/limits).
const RoleOperator = "operator"

// accountLimits is the body of GET and PUT /api/v1/accounts/{username}/limits.
type accountLimits struct {
	Account string `json:"account"`
	// Own are the limits set for the account: "default" where none is.
	Own dialtone.LimitSettings `json:"own"`
	// Effective are the limits calls of the account meet.
	Effective dialtone.LimitSettings `json:"effective"`
}

// limits: GET /api/v1/accounts/{username}/limits, for the operator role.
func (s *Server) limits(w http.ResponseWriter, r *http.Request) {
	a, err := s.store.AccountByUsername(r.Context(), r.PathValue("username"))
	if err != nil {
		s.fail(w, err)
		return
	}
	s.writeLimits(w, r, a)
}

// setLimits: PUT /api/v1/accounts/{username}/limits, for the operator
// role. The body (dialtone.LimitSettings) replaces the account's limits:
// a limit left out, "default", or an empty list is the default.
func (s *Server) setLimits(w http.ResponseWriter, r *http.Request) {
	a, err := s.store.AccountByUsername(r.Context(), r.PathValue("username"))
	if err != nil {
		s.fail(w, err)
		return
	}
	var body dialtone.LimitSettings
	if !decode(w, r, &body) {
		return
	}
	l, err := body.Limits(false)
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.store.SetAccountLimits(r.Context(), a.ID, l); err != nil {
		s.fail(w, err)
		return
	}
	s.log.Info("account limits set", "account", a.Username, "limits", l.Settings())
	s.writeLimits(w, r, a)
}

func (s *Server) writeLimits(w http.ResponseWriter, r *http.Request, a *dialtone.Account) {
	own, err := s.store.AccountLimits(r.Context(), a.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, accountLimits{Account: a.Username, Own: own.Settings(), Effective: own.Over(s.cfg.Limits).Settings()})
}
