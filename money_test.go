package dialtone_test

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

func TestTransfer(t *testing.T) {
	ok := dialtone.Transfer{Key: "k", Kind: "topup", Currency: "USD", Memo: "card", From: dialtone.FundingAccount("USD"), To: dialtone.WalletAccount(1),
		Amount: decimal.RequireFromString("2.50")}
	m, err := ok.Movement()
	if err != nil {
		t.Fatalf("Movement() = %v", err)
	}
	if m.Key != "k" || m.Kind != "topup" || m.Currency != "USD" || m.Memo != "card" || m.Fingerprint() != "topup|USD|funding:USD=-2500000|wallet:1=2500000" {
		t.Errorf("Movement() = %+v", *m)
	}
	for name, change := range map[string]func(*dialtone.Transfer){
		"no key":          func(tr *dialtone.Transfer) { tr.Key = "" },
		"no kind":         func(tr *dialtone.Transfer) { tr.Kind = "" },
		"bad currency":    func(tr *dialtone.Transfer) { tr.Currency = "US" },
		"no from":         func(tr *dialtone.Transfer) { tr.From = "" },
		"to itself":       func(tr *dialtone.Transfer) { tr.To = tr.From },
		"zero":            func(tr *dialtone.Transfer) { tr.Amount = decimal.Zero },
		"negative":        func(tr *dialtone.Transfer) { tr.Amount = decimal.RequireFromString("-1") },
		"too many places": func(tr *dialtone.Transfer) { tr.Amount = decimal.RequireFromString("0.0000001") },
	} {
		tr := ok
		change(&tr)
		if m, err := tr.Movement(); m != nil || !errors.Is(err, dialtone.ErrInvalid) {
			t.Errorf("%s: Movement() = %v, %v; want ErrInvalid", name, m, err)
		}
	}
}
