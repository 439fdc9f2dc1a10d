package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDialerMoney: a user with a rate plan and a wallet signs in to the
// dialer page and sees their balance and bundle minutes; types a UK
// number and sees its rate (one quote for the whole number, not one per
// key); calls it and sees the cost so far (the first increment of the
// plan's 30/6 with the connect fee: 0.11); after the call sees the charge,
// the new balance and the call in recent calls; buys a bundle and sees its
// minutes. The page fits a desktop and a phone screen (screenshots in the
// test's temp dir, copied to $DIALTONE_ARTIFACTS when set).
func TestDialerMoney(t *testing.T) {
	browserReady(t)
	root, _ := filepath.Abs("..")
	driver := filepath.Join(root, "web", "test", "money.mjs")
	carrierPort, wsPort, webrtcPort := freePort(t), freePort(t), freePort(t)
	media := newTonePeer(t, 0)
	runCarrier(t, carrier{answer: "200", rtpPort: media.Port, codec: "PCMU", eventPT: 126}, carrierPort, 1)
	sw := billedSwitchWith(t, Options{Store: "sqlite", Trunks: []int{carrierPort},
		SIPExtra:   fmt.Sprintf(`listen: [{transport: udp, addr: "127.0.0.1:%d"}, {transport: ws, addr: "127.0.0.1:%d"}]`, freePort(t), wsPort),
		MediaExtra: fmt.Sprintf(`webrtc: {listen: "0.0.0.0:%d"}`, webrtcPort),
		Extra: `bundles:
  - {code: uk100, name: "UK 100", minutes: 100, price: "0.99", currency: USD, days: 30, countries: [GB]}
`,
	})
	sw.billedAccount("alice", "2.00")
	shots := t.TempDir()
	events := runDriver(t, driver, map[string]any{
		"url": fmt.Sprintf("http://127.0.0.1:%d/", sw.HTTPPort), "user": "alice", "password": "secret",
		"number": "+44 20 7946 0018", "holdMs": 4000, "bundle": "uk100", "shots": shots, "wav": writeToneWAV(t, micHz),
		"debug": os.Getenv("DIALTONE_BROWSER_DEBUG") != "",
	})
	raw := map[string]map[string]any{} // by event (and name, for layout)
	for _, e := range events {
		raw[fmt.Sprint(e["event"])+":"+fmt.Sprint(e["name"])] = e
	}
	str := func(event, field string) string { return fmt.Sprint(raw[event+":<nil>"][field]) }
	if w := raw["wallet:<nil>"]; w["balance"] != "2.00 USD" || w["minutes"] != 0.0 {
		t.Errorf("after sign-in the page showed %v, want a balance of 2.00 USD and 0 bundle minutes", w)
	}
	if r := raw["rate:<nil>"]; r == nil || !strings.Contains(fmt.Sprint(r["shown"]), "0.12 USD/min + 0.05 USD to connect") || r["quotes"].(float64) > 2 {
		t.Errorf("the rate of +44 20 7946 0018: %v, want 0.12 USD/min + 0.05 USD to connect, asked at most twice while typing", r)
	}
	if got := str("cost", "shown"); got != "0.11 USD so far" {
		t.Errorf("the cost shown %s ms into the call = %q, want 0.11 USD so far (30 s at 0.12/min + 0.05)", str("cost", "ms"), got)
	}
	cdrs := cdrOf(sw.CDRs(1), "alice")
	if len(cdrs) != 1 {
		t.Fatalf("CDRs of alice: %d, want 1", len(cdrs))
	}
	if !cdrs[0].Price.Equal(dec("0.11")) {
		t.Errorf("the call's CDR price = %s, want 0.11", cdrs[0].Price)
	}
	if got := str("charge", "shown"); got != "this call: 0.11 USD" {
		t.Errorf("after the call the page showed the charge %q, want this call: 0.11 USD", got)
	}
	if got := str("balance", "shown"); got != "1.89 USD" {
		t.Errorf("after the call the page showed the balance %q, want 1.89 USD", got)
	}
	if r := str("recent", "shown"); str("recent", "count") != "1" || !strings.Contains(r, "+442079460018") || !strings.Contains(r, "0.11 USD") {
		t.Errorf("recent calls: %v, want the one call to +442079460018 charged 0.11 USD", raw["recent:<nil>"])
	}
	if b := raw["bought:<nil>"]; b == nil || b["minutes"] != 100.0 || b["balance"] != "0.90 USD" || b["minutesShown"] != "100" {
		t.Errorf("after buying uk100: %v, want 100 bundle minutes and a balance of 0.90 USD", b)
	}
	if w := sw.wallet("alice"); !w.Equal(dec("0.90")) {
		t.Errorf("alice's wallet = %s, want 0.90 (2.00 - 0.11 - 0.99)", w)
	}
	for _, size := range []struct {
		name string
		w, h int
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		l := raw["layout:"+size.name]
		if l == nil || l["scrollWidth"].(float64) > float64(size.w) || len(l["visible"].([]any)) != 5 {
			t.Errorf("layout at %s: %v, want no horizontal overflow and the five elements in the window", size.name, l)
		}
		b, err := os.ReadFile(filepath.Join(shots, "dialer-"+size.name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("screenshot %s: %v", size.name, err)
		}
		if r := img.Bounds(); r.Dx() != size.w || r.Dy() != size.h {
			t.Errorf("screenshot %s is %dx%d, want %dx%d", size.name, r.Dx(), r.Dy(), size.w, size.h)
		}
		if dir := os.Getenv("DIALTONE_ARTIFACTS"); dir != "" {
			if err := os.MkdirAll(dir, 0o755); err == nil {
				_ = os.WriteFile(filepath.Join(dir, "dialer-"+size.name+".png"), b, 0o644)
			}
		}
	}
}

// runDriver runs a browser driver with its JSON input and returns its
// events as they were printed; the last must be a successful done.
func runDriver(t *testing.T, driver string, input map[string]any) []map[string]any {
	t.Helper()
	arg, _ := json.Marshal(input)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", driver, string(arg))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	var events []map[string]any
	for _, line := range bytes.Split(stdout, []byte("\n")) {
		var e map[string]any
		if json.Unmarshal(line, &e) == nil && e["event"] != nil {
			events = append(events, e)
		}
	}
	if err != nil || len(events) == 0 || events[len(events)-1]["event"] != "done" || events[len(events)-1]["ok"] != true {
		t.Errorf("browser driver: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr.String())
	}
	return events
}
