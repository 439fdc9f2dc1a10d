package companion

import (
	"net/http"
	"strings"

	"github.com/dialtone/dialtone"
)

// bundleCatalog: GET /api/v1/wallet/bundles, the bundles on sale (the
// bundles section of the configuration) in the account's currency, so an
// app can offer them before POST /api/v1/wallet/bundles buys one.
func (s *Server) bundleCatalog(w http.ResponseWriter, _ *http.Request, c *caller) {
	type bundle struct {
		Code         string   `json:"code"`
		Name         string   `json:"name"`
		Seconds      int64    `json:"seconds"`
		Price        string   `json:"price"`
		Currency     string   `json:"currency"`
		ValidityDays int64    `json:"validity_days"`
		Countries    []string `json:"countries"`    // empty: every destination
		NumberTypes  []string `json:"number_types"` // empty: every type
	}
	out := struct {
		Items []bundle `json:"items"`
	}{Items: []bundle{}}
	for _, b := range s.cfg.Bundles {
		if !strings.EqualFold(b.Currency, c.account.Currency) {
			continue
		}
		out.Items = append(out.Items, bundle{Code: b.Code, Name: b.Name, Seconds: b.Seconds, Price: dialtone.Amount(b.Price, b.Currency),
			Currency: strings.ToUpper(b.Currency), ValidityDays: int64(b.Validity.Hours() / 24),
			Countries: append([]string{}, b.Countries...), NumberTypes: append([]string{}, b.NumberTypes...)})
	}
	writeJSON(w, http.StatusOK, out)
}
