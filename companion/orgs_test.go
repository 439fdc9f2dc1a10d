package companion_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/dialtone/dialtone/storetest"
)

// TestOrganizations walks each role through each endpoint, on its own
// organization and another's: admins manage members and money, managers
// decide others' leave and claims, employees ask, outsiders see nothing.
func TestOrganizations(t *testing.T) {
	eachStore(t, "open", func(t *testing.T, a *api) {
		admin, _ := a.quickUser("ann")
		manager, _ := a.quickUser("max")
		employee, _ := a.quickUser("eve")
		outsider, _ := a.quickUser("oz")
		a.pay("fund-ann", "ann", "200.00")
		code, org := a.do("POST", "/api/v1/orgs", admin, map[string]string{"name": "Acme"})
		if code != 201 {
			t.Fatalf("create org = %d %v", code, org)
		}
		base := fmt.Sprintf("/api/v1/orgs/%v", org["id"])
		_, other := a.do("POST", "/api/v1/orgs", outsider, map[string]string{"name": "Other"})
		otherBase := fmt.Sprintf("/api/v1/orgs/%v", other["id"])
		expect := func(who, tok, method, path string, body any, want int, headers ...string) map[string]any {
			t.Helper()
			code, out := a.do(method, path, tok, body, headers...)
			if code != want {
				t.Errorf("%s %s %s = %d %v, want %d", who, method, path, code, out, want)
			}
			return out
		}
		// Members.
		member := func(role string, days int) map[string]any { return map[string]any{"role": role, "leave_days": days} }
		expect("manager", manager, "PUT", base+"/members/eve", member("employee", 5), 404) // not a member yet
		expect("admin", admin, "PUT", base+"/members/max", member("manager", 10), 200)
		expect("admin", admin, "PUT", base+"/members/eve", member("employee", 5), 200)
		expect("admin", admin, "PUT", base+"/members/ann", member("employee", 5), 400) // no self-demotion
		expect("manager", manager, "PUT", base+"/members/eve", member("admin", 5), 403)
		expect("employee", employee, "PUT", base+"/members/eve", member("admin", 5), 403)
		expect("outsider", outsider, "PUT", base+"/members/oz", member("admin", 5), 404)
		for who, tok := range map[string]string{"admin": admin, "manager": manager, "employee": employee} {
			expect(who, tok, "GET", base, nil, 200)
		}
		expect("outsider", outsider, "GET", base, nil, 404)
		expect("employee", employee, "GET", otherBase, nil, 404)
		if _, o := a.do("GET", base, employee, nil); o["balance"] != nil {
			t.Errorf("an employee sees the organization's balance: %v", o)
		}
		// Money in.
		dep := func(who, tok string, want int) {
			expect(who, tok, "POST", base+"/deposits", map[string]string{"amount": "100.00"}, want, "Idempotency-Key", "deposit-"+who)
		}
		dep("manager", manager, 403)
		dep("employee", employee, 403)
		dep("outsider", outsider, 404)
		dep("admin", admin, 200)
		dep("admin", admin, 200) // a retry: nothing more moves
		if _, o := a.do("GET", base, manager, nil); o["balance"] != "100.00" {
			t.Errorf("organization balance = %v, want 100.00 after one deposit and its retry", o["balance"])
		}

		// Leave: never decided by the one who asked; within the allowance.
		from := a.clock.now().AddDate(0, 1, 0).Format(time.DateOnly)
		to3 := a.clock.now().AddDate(0, 1, 2).Format(time.DateOnly)
		to6 := a.clock.now().AddDate(0, 1, 5).Format(time.DateOnly)
		l1 := expect("employee", employee, "POST", base+"/leave", map[string]string{"from": from, "to": to3, "reason": "trip"}, 201)
		l2 := expect("employee", employee, "POST", base+"/leave", map[string]string{"from": from, "to": to6}, 201)
		expect("employee", employee, "POST", base+"/leave", map[string]string{"from": to3, "to": from}, 400)
		expect("outsider", outsider, "POST", base+"/leave", map[string]string{"from": from, "to": to3}, 404)
		l1p := fmt.Sprintf("%s/leave/%v", base, l1["id"])
		l2p := fmt.Sprintf("%s/leave/%v", base, l2["id"])
		expect("employee", employee, "POST", l1p+"/approve", nil, 403)
		expect("outsider", outsider, "POST", l1p+"/approve", nil, 404)
		expect("outsider in own org", outsider, "POST", fmt.Sprintf("%s/leave/%v/approve", otherBase, l1["id"]), nil, 404)
		if out := expect("manager", manager, "POST", l1p+"/approve", nil, 200); out["status"] != "approved" || out["days"] != float64(3) {
			t.Errorf("approved leave = %v", out)
		}
		expect("manager again", manager, "POST", l1p+"/reject", nil, 409)
		expect("manager over the allowance", manager, "POST", l2p+"/approve", nil, 409)
		expect("admin rejects", admin, "POST", l2p+"/reject", nil, 200)
		if out := expect("employee", employee, "GET", base+"/leave/balance", nil, 200); out["taken"] != float64(3) || out["left"] != float64(2) {
			t.Errorf("leave balance = %v, want 3 taken, 2 left", out)
		}
		own := expect("manager", manager, "POST", base+"/leave", map[string]string{"from": from, "to": from}, 201)
		expect("manager on own leave", manager, "POST", fmt.Sprintf("%s/leave/%v/approve", base, own["id"]), nil, 403)

		// Expenses: claimed, approved by someone else, reimbursed by an admin through the ledger.
		_, receipt := a.do("POST", "/api/v1/attachments", employee, "receipt bytes", "Content-Type", "image/jpeg")
		_, annsReceipt := a.do("POST", "/api/v1/attachments", admin, "receipt bytes", "Content-Type", "image/jpeg")
		claim := func(who, tok, amount string, receiptID any, want int) map[string]any {
			return expect(who, tok, "POST", base+"/expenses", map[string]any{"amount": amount, "category": "travel", "receipt": receiptID, "note": "taxi"}, want)
		}
		claim("employee with another's receipt", employee, "12.50", annsReceipt["id"], 400)
		claim("employee negative", employee, "-1", receipt["id"], 400)
		claim("employee over-precise", employee, "1.005", receipt["id"], 400)
		claim("outsider", outsider, "1.00", receipt["id"], 404)
		e1 := claim("employee", employee, "12.50", receipt["id"], 201)
		e1p := fmt.Sprintf("%s/expenses/%v", base, e1["id"])
		expect("employee", employee, "POST", e1p+"/approve", nil, 403)
		expect("manager before approval", admin, "POST", e1p+"/reimburse", nil, 409)
		expect("manager", manager, "POST", e1p+"/approve", nil, 200)
		expect("manager", manager, "POST", e1p+"/reimburse", nil, 403)
		expect("employee", employee, "POST", e1p+"/reimburse", nil, 403)
		expect("outsider", outsider, "POST", e1p+"/reimburse", nil, 404)
		if out := expect("admin", admin, "POST", e1p+"/reimburse", nil, 200); out["status"] != "reimbursed" {
			t.Errorf("reimbursed claim = %v", out)
		}
		expect("admin again", admin, "POST", e1p+"/reimburse", nil, 409)
		if a.balance(employee) != "12.50" {
			t.Errorf("employee's wallet = %s, want 12.50", a.balance(employee))
		}
		if _, o := a.do("GET", base, admin, nil); o["balance"] != "87.50" {
			t.Errorf("organization balance = %v, want 87.50", o["balance"])
		}
		e2 := claim("admin", admin, "5.00", annsReceipt["id"], 201)
		e2p := fmt.Sprintf("%s/expenses/%v", base, e2["id"])
		expect("admin on own claim", admin, "POST", e2p+"/approve", nil, 403)
		expect("manager", manager, "POST", e2p+"/approve", nil, 200)
		expect("admin paying own claim", admin, "POST", e2p+"/reimburse", nil, 403)
		if out := expect("employee", employee, "GET", base+"/expenses", nil, 200); len(out["items"].([]any)) != 1 {
			t.Errorf("the employee sees %d claims, want only their own", len(out["items"].([]any)))
		}
		if out := expect("manager", manager, "GET", base+"/expenses", nil, 200); len(out["items"].([]any)) != 2 {
			t.Errorf("the manager sees %d claims, want 2", len(out["items"].([]any)))
		}
		expect("outsider", outsider, "GET", base+"/expenses", nil, 404)

		// Attendance.
		expect("employee", employee, "POST", base+"/clock-in", nil, 200)
		expect("employee twice", employee, "POST", base+"/clock-in", nil, 409)
		a.clock.add(8*time.Hour + 30*time.Minute)
		expect("employee", employee, "POST", base+"/clock-out", nil, 200)
		expect("employee twice", employee, "POST", base+"/clock-out", nil, 409)
		expect("manager not in", manager, "POST", base+"/clock-out", nil, 409)
		expect("employee report", employee, "GET", base+"/attendance", nil, 403)
		expect("outsider report", outsider, "GET", base+"/attendance", nil, 404)
		report := expect("manager report", manager, "GET", base+"/attendance?day="+a.clock.now().Format(time.DateOnly), nil, 200)
		present := 0
		for _, m := range report["members"].([]any) {
			row := m.(map[string]any)
			if row["present"] == true {
				present++
				if row["username"] != "eve" || row["minutes"] != float64(510) {
					t.Errorf("attendance row = %v, want eve for 510 minutes", row)
				}
			}
		}
		if present != 1 || len(report["members"].([]any)) != 3 {
			t.Errorf("attendance = %v, want 3 members, eve present", report)
		}
		storetest.CheckLedger(t, a.st)
	})
}
