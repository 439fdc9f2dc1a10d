package companion

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// Organizations: members with roles (admin, manager, employee), leave with
// annual allowances, expense claims reimbursed from the organization's
// wallet through the ledger, and attendance. An organization is invisible
// to non-members (404); a request is never decided by the one who made it.

// orgMember loads the organization of the path and the caller's membership;
// non-members get 404, members without one of roles (when given) 403.
func (s *Server) orgMember(w http.ResponseWriter, r *http.Request, c *caller, roles ...dialtone.Role) (*dialtone.Org, *dialtone.Member, bool) {
	id, err := strconv.ParseInt(r.PathValue("org"), 10, 64)
	var m *dialtone.Member
	if err == nil {
		m, err = s.store.Member(r.Context(), id, c.account.ID)
	}
	if err != nil {
		if errors.Is(err, dialtone.ErrNotFound) || errors.Is(err, strconv.ErrSyntax) || errors.Is(err, strconv.ErrRange) {
			writeError(w, http.StatusNotFound, "not_found", "no such organization for you")
		} else {
			s.fail(w, err)
		}
		return nil, nil, false
	}
	if len(roles) > 0 && !slices.Contains(roles, m.Role) {
		writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("this needs the role %s", roleList(roles)))
		return nil, nil, false
	}
	o, err := s.store.Org(r.Context(), id)
	if err != nil {
		s.fail(w, err)
		return nil, nil, false
	}
	return o, m, true
}

func roleList(roles []dialtone.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, " or ")
}

var deciders = []dialtone.Role{dialtone.RoleAdmin, dialtone.RoleManager}

// createOrg: POST /api/v1/orgs {"name": "Acme"}
func (s *Server) createOrg(w http.ResponseWriter, r *http.Request, c *caller) {
	var in struct {
		Name string `json:"name"`
	}
	if !decode(w, r, &in) {
		return
	}
	if in.Name = strings.TrimSpace(in.Name); in.Name == "" || len(in.Name) > 100 {
		writeError(w, http.StatusBadRequest, "invalid", "name must be 1 to 100 characters")
		return
	}
	o := &dialtone.Org{Name: in.Name, Currency: c.account.Currency, CreatedAt: s.now()}
	if err := s.store.CreateOrg(r.Context(), o, c.account.ID); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": o.ID, "name": o.Name, "currency": o.Currency})
}

// org: GET /api/v1/orgs/{org}, for members; admins and managers also see the wallet.
func (s *Server) org(w http.ResponseWriter, r *http.Request, c *caller) {
	o, me, ok := s.orgMember(w, r, c)
	if !ok {
		return
	}
	ms, err := s.store.Members(r.Context(), o.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	type member struct {
		Username  string `json:"username"`
		Role      string `json:"role"`
		LeaveDays int    `json:"leave_days"`
		CallCap   string `json:"call_cap"`
	}
	out := map[string]any{"id": o.ID, "name": o.Name, "currency": o.Currency, "role": me.Role}
	var members []member
	for _, m := range ms {
		n, err := s.names(r, m.AccountID)
		if err != nil {
			s.fail(w, err)
			return
		}
		members = append(members, member{n[m.AccountID], string(m.Role), m.LeaveDays, dialtone.Amount(m.CallCap, o.Currency)})
	}
	out["members"] = members
	if slices.Contains(deciders, me.Role) {
		bal, err := s.store.Balance(r.Context(), dialtone.OrgAccount(o.ID))
		if err != nil {
			s.fail(w, err)
			return
		}
		out["balance"] = dialtone.Amount(bal, o.Currency)
	}
	writeJSON(w, http.StatusOK, out)
}

// setMember: PUT /api/v1/orgs/{org}/members/{username} {"role": "employee", "leave_days": 20}, admins only.
func (s *Server) setMember(w http.ResponseWriter, r *http.Request, c *caller) {
	o, _, ok := s.orgMember(w, r, c, dialtone.RoleAdmin)
	if !ok {
		return
	}
	var in struct {
		Role      string `json:"role"`
		LeaveDays int    `json:"leave_days"`
		CallCap   string `json:"call_cap"` // monthly company-paid calling; "" or "0": none
	}
	if !decode(w, r, &in) {
		return
	}
	callCap := decimal.Zero
	if in.CallCap != "" && in.CallCap != "0" {
		c, err := amount(in.CallCap, o.Currency)
		if err != nil {
			s.fail(w, err)
			return
		}
		callCap = c
	}
	role := dialtone.Role(in.Role)
	if !slices.Contains([]dialtone.Role{dialtone.RoleAdmin, dialtone.RoleManager, dialtone.RoleEmployee}, role) || in.LeaveDays < 0 || in.LeaveDays > 366 {
		writeError(w, http.StatusBadRequest, "invalid", "role must be admin, manager or employee, and leave_days 0 to 366")
		return
	}
	a, err := s.store.AccountByUsername(r.Context(), r.PathValue("username"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if a.ID == c.account.ID && role != dialtone.RoleAdmin {
		writeError(w, http.StatusBadRequest, "invalid", "an admin cannot demote themselves; another admin can")
		return
	}
	if a.Currency != o.Currency {
		writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("%s's wallet is in %s, the organization's in %s", a.Username, a.Currency, o.Currency))
		return
	}
	if err := s.store.SetMember(r.Context(), dialtone.Member{OrgID: o.ID, AccountID: a.ID, Role: role, LeaveDays: in.LeaveDays, CallCap: callCap}); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"username": a.Username, "role": role, "leave_days": in.LeaveDays, "call_cap": dialtone.Amount(callCap, o.Currency), "currency": o.Currency})
}

// deposit: POST /api/v1/orgs/{org}/deposits {"amount": "100.00"}: an admin funds the organization from their wallet.
func (s *Server) deposit(w http.ResponseWriter, r *http.Request, c *caller) {
	o, _, ok := s.orgMember(w, r, c, dialtone.RoleAdmin)
	if !ok {
		return
	}
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var in struct {
		Amount string `json:"amount"`
	}
	if !decode(w, r, &in) {
		return
	}
	amt, err := amount(in.Amount, o.Currency)
	if err != nil {
		s.fail(w, err)
		return
	}
	m, err := dialtone.Transfer{Key: fmt.Sprintf("org-deposit:%d:%d:%s", o.ID, c.account.ID, key), Kind: "org-deposit", Currency: o.Currency,
		Memo: "deposit by " + c.account.Username, From: dialtone.WalletAccount(c.account.ID), To: dialtone.OrgAccount(o.ID), Amount: amt}.Movement()
	if err != nil {
		s.fail(w, err)
		return
	}
	replayed, err := s.store.Post(r.Context(), m)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"amount": dialtone.Amount(amt, o.Currency), "currency": o.Currency, "replayed": replayed})
}

// requestLeave: POST /api/v1/orgs/{org}/leave {"from": "2026-12-01", "to": "2026-12-03", "reason": ""}
func (s *Server) requestLeave(w http.ResponseWriter, r *http.Request, c *caller) {
	o, _, ok := s.orgMember(w, r, c)
	if !ok {
		return
	}
	var in struct {
		From   string `json:"from"`
		To     string `json:"to"`
		Reason string `json:"reason"`
	}
	if !decode(w, r, &in) {
		return
	}
	from, err1 := time.Parse(time.DateOnly, in.From)
	to, err2 := time.Parse(time.DateOnly, in.To)
	days := int(to.Sub(from)/(24*time.Hour)) + 1
	if err := errors.Join(err1, err2); err != nil || days < 1 || days > 60 || len(in.Reason) > 500 {
		writeError(w, http.StatusBadRequest, "invalid", "from and to are YYYY-MM-DD, from not after to, at most 60 days; reason at most 500 characters")
		return
	}
	l := &dialtone.LeaveRequest{OrgID: o.ID, AccountID: c.account.ID, From: from, To: to, Days: days, Reason: in.Reason, CreatedAt: s.now()}
	if err := s.store.CreateLeave(r.Context(), l); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, leaveView(l))
}

func leaveView(l *dialtone.LeaveRequest) map[string]any {
	return map[string]any{"id": l.ID, "from": l.From.Format(time.DateOnly), "to": l.To.Format(time.DateOnly), "days": l.Days, "status": l.Status}
}

// decideLeave: POST /api/v1/orgs/{org}/leave/{id}/{decision} with decision approve or reject.
func (s *Server) decideLeave(w http.ResponseWriter, r *http.Request, c *caller) {
	o, _, ok := s.orgMember(w, r, c, deciders...)
	if !ok {
		return
	}
	approve, ok := decision(w, r)
	if !ok {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	l, err := s.store.Leave(r.Context(), id)
	if err == nil && l.OrgID != o.ID {
		err = dialtone.ErrNotFound
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	if l.AccountID == c.account.ID {
		writeError(w, http.StatusForbidden, "forbidden", "nobody decides their own request")
		return
	}
	l, err = s.store.DecideLeave(r.Context(), id, approve, c.account.ID, s.now())
	if errors.Is(err, dialtone.ErrInsufficientFunds) {
		writeError(w, http.StatusConflict, "not_enough_leave", err.Error())
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, leaveView(l))
}

func decision(w http.ResponseWriter, r *http.Request) (approve, ok bool) {
	switch r.PathValue("decision") {
	case "approve":
		return true, true
	case "reject":
		return false, true
	}
	writeError(w, http.StatusNotFound, "not_found", "the decision is approve or reject")
	return false, false
}

// leaveBalance: GET /api/v1/orgs/{org}/leave/balance, the caller's.
func (s *Server) leaveBalance(w http.ResponseWriter, r *http.Request, c *caller) {
	o, me, ok := s.orgMember(w, r, c)
	if !ok {
		return
	}
	year := s.now().Year()
	taken, err := s.store.LeaveTaken(r.Context(), o.ID, c.account.ID, year)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"year": year, "allowance": me.LeaveDays, "taken": taken, "left": me.LeaveDays - taken})
}

// claimExpense: POST /api/v1/orgs/{org}/expenses {"amount": "12.50", "category": "travel", "receipt": "ATTACHMENT", "note": ""}
func (s *Server) claimExpense(w http.ResponseWriter, r *http.Request, c *caller) {
	o, _, ok := s.orgMember(w, r, c)
	if !ok {
		return
	}
	var in struct {
		Amount   string `json:"amount"`
		Category string `json:"category"`
		Receipt  string `json:"receipt"`
		Note     string `json:"note"`
	}
	if !decode(w, r, &in) {
		return
	}
	amt, err := amount(in.Amount, o.Currency)
	if err != nil {
		s.fail(w, err)
		return
	}
	if in.Category == "" || len(in.Category) > 50 || len(in.Note) > 500 {
		writeError(w, http.StatusBadRequest, "invalid", "category is 1 to 50 characters, note at most 500")
		return
	}
	if in.Receipt != "" {
		a, err := s.store.Attachment(r.Context(), in.Receipt)
		if err != nil || a.OwnerID != c.account.ID {
			writeError(w, http.StatusBadRequest, "invalid", "receipt must be an attachment you uploaded")
			return
		}
	}
	e := &dialtone.Expense{OrgID: o.ID, AccountID: c.account.ID, Amount: amt, Currency: o.Currency, Category: in.Category,
		Receipt: in.Receipt, Note: in.Note, CreatedAt: s.now()}
	if err := s.store.CreateExpense(r.Context(), e); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.expenseView(r, e))
}

func (s *Server) expenseView(r *http.Request, e *dialtone.Expense) map[string]any {
	v := map[string]any{"id": e.ID, "amount": dialtone.Amount(e.Amount, e.Currency), "currency": e.Currency, "category": e.Category,
		"receipt": e.Receipt, "note": e.Note, "status": e.Status}
	if n, err := s.names(r, e.AccountID); err == nil {
		v["claimant"] = n[e.AccountID]
	}
	return v
}

// loadExpense finds a claim of the organization, not the caller's own.
func (s *Server) loadExpense(w http.ResponseWriter, r *http.Request, c *caller, o *dialtone.Org) (int64, bool) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	e, err := s.store.Expense(r.Context(), id)
	if err == nil && e.OrgID != o.ID {
		err = dialtone.ErrNotFound
	}
	if err != nil {
		s.fail(w, err)
		return 0, false
	}
	if e.AccountID == c.account.ID {
		writeError(w, http.StatusForbidden, "forbidden", "nobody decides or pays their own claim")
		return 0, false
	}
	return id, true
}

// decideExpense: POST /api/v1/orgs/{org}/expenses/{id}/{decision}
func (s *Server) decideExpense(w http.ResponseWriter, r *http.Request, c *caller) {
	o, _, ok := s.orgMember(w, r, c, deciders...)
	if !ok {
		return
	}
	approve, ok := decision(w, r)
	if !ok {
		return
	}
	id, ok := s.loadExpense(w, r, c, o)
	if !ok {
		return
	}
	e, err := s.store.DecideExpense(r.Context(), id, approve, c.account.ID, s.now())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.expenseView(r, e))
}

// reimburse: POST /api/v1/orgs/{org}/expenses/{id}/reimburse, admins: the
// organization's wallet pays the approved claim into the employee's.
func (s *Server) reimburse(w http.ResponseWriter, r *http.Request, c *caller) {
	o, _, ok := s.orgMember(w, r, c, dialtone.RoleAdmin)
	if !ok {
		return
	}
	id, ok := s.loadExpense(w, r, c, o)
	if !ok {
		return
	}
	e, err := s.store.Expense(r.Context(), id)
	if err != nil {
		s.fail(w, err)
		return
	}
	pay, err := dialtone.Transfer{Key: fmt.Sprintf("expense:%d", id), Kind: "reimbursement", Currency: o.Currency,
		Memo: fmt.Sprintf("expense %d: %s", id, e.Category), From: dialtone.OrgAccount(o.ID), To: dialtone.WalletAccount(e.AccountID), Amount: e.Amount}.Movement()
	if err != nil {
		s.fail(w, err)
		return
	}
	e, err = s.store.ReimburseExpense(r.Context(), id, pay)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.expenseView(r, e))
}

// expenses: GET /api/v1/orgs/{org}/expenses: the caller's own, or all of
// them for admins and managers.
func (s *Server) expenses(w http.ResponseWriter, r *http.Request, c *caller) {
	o, me, ok := s.orgMember(w, r, c)
	if !ok {
		return
	}
	limit, before, ok := page(w, r)
	if !ok {
		return
	}
	who := c.account.ID
	if slices.Contains(deciders, me.Role) {
		who = 0
	}
	es, err := s.store.Expenses(r.Context(), o.ID, who, before, limit+1)
	if err != nil {
		s.fail(w, err)
		return
	}
	items := []map[string]any{}
	next := ""
	for i := range es {
		if i == limit {
			next = strconv.FormatInt(es[limit-1].ID, 10)
			break
		}
		items = append(items, s.expenseView(r, &es[i]))
	}
	out := map[string]any{"items": items}
	if next != "" {
		out["next_cursor"] = next
	}
	writeJSON(w, http.StatusOK, out)
}

// clock: POST /api/v1/orgs/{org}/clock-in and /clock-out
func (s *Server) clock(in bool) func(http.ResponseWriter, *http.Request, *caller) {
	return func(w http.ResponseWriter, r *http.Request, c *caller) {
		o, _, ok := s.orgMember(w, r, c)
		if !ok {
			return
		}
		now := s.now()
		var err error
		if in {
			err = s.store.ClockIn(r.Context(), o.ID, c.account.ID, now)
		} else {
			err = s.store.ClockOut(r.Context(), o.ID, c.account.ID, now)
		}
		if err != nil {
			s.fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"at": now.UTC().Format(time.RFC3339)})
	}
}

// attendance: GET /api/v1/orgs/{org}/attendance?day=YYYY-MM-DD, for admins
// and managers: who came, when, and for how long.
func (s *Server) attendance(w http.ResponseWriter, r *http.Request, c *caller) {
	o, _, ok := s.orgMember(w, r, c, deciders...)
	if !ok {
		return
	}
	day := r.URL.Query().Get("day")
	if day == "" {
		day = s.now().UTC().Format(time.DateOnly)
	}
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_query", "day is YYYY-MM-DD")
		return
	}
	shifts, err := s.store.Attendance(r.Context(), o.ID, day)
	if err != nil {
		s.fail(w, err)
		return
	}
	ms, err := s.store.Members(r.Context(), o.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	type row struct {
		Username string `json:"username"`
		In       string `json:"in,omitempty"`
		Out      string `json:"out,omitempty"`
		Minutes  int64  `json:"minutes"`
		Present  bool   `json:"present"`
	}
	rows := []row{}
	for _, m := range ms {
		n, err := s.names(r, m.AccountID)
		if err != nil {
			s.fail(w, err)
			return
		}
		rw := row{Username: n[m.AccountID]}
		for _, sh := range shifts {
			if sh.AccountID != m.AccountID {
				continue
			}
			rw.Present, rw.In = true, sh.In.Format(time.RFC3339)
			if !sh.Out.IsZero() {
				rw.Out, rw.Minutes = sh.Out.Format(time.RFC3339), int64(sh.Out.Sub(sh.In)/time.Minute)
			}
		}
		rows = append(rows, rw)
	}
	writeJSON(w, http.StatusOK, map[string]any{"day": day, "members": rows})
}
